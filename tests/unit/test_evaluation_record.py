"""Play 5's presentation: the SVG charts, the report partial, the sign-off record (HTML and PDF).

Every report here comes from the engine itself (workers.engine.evaluate.evaluation_report) on synthetic
probabilities, so the templates and charts are tested against the dict they will really receive."""
import copy
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from django.template.loader import render_to_string

from apps.evaluation import charts
from apps.evaluation.record import RefusingFetcher, record_html, record_pdf
from apps.evaluation.templatetags import evaluation_tags as tags
from workers.engine import evaluation as stats
from workers.engine.evaluate import (Calibration, ModelScores, ProductionSample, ReportInputs,
                                     evaluation_report, softmax_rows)

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ["billing", "access", "bug", "other"]
HOSTILE = ['<script>alert("x")</script>', "A & B", "it's \"quoted\"", "very long label " * 20]
CHARTS = {
    "delta": charts.delta_chart,
    "models": charts.models_chart,
    "per_class": charts.per_class_chart,
    "reliability": charts.reliability_chart,
    "confusion": charts.confusion_heatmap,
}


def _logits(rng, y, k, *, skill, scale):
    """Logits that put the most mass on the true class for a share ``skill`` of the rows, scaled (a larger
    scale is an overconfident model)."""
    n = len(y)
    logits = rng.normal(0.0, 1.0, (n, k))
    right = rng.random(n) < skill
    wrong = (y + rng.integers(1, k, n)) % k
    logits[np.arange(n), np.where(right, y, wrong)] += 2.0
    return logits * scale


def build_report(*, labels=LABELS, metric="macro_f1", direction="higher", margin=0.02, positive=None,
                 labelled_production=False, texts=None, seed=3):
    rng = np.random.default_rng(seed)
    k, n = len(labels), 300
    y = rng.integers(0, k, n)
    texts = texts or [" ".join(["word"] * int(rng.integers(2, 40))) + f" row {i}" for i in range(n)]
    candidate = _logits(rng, y, k, skill=0.86, scale=2.5)
    val_y = rng.integers(0, k, 200)
    production_y = rng.integers(0, k, 90)
    production_logits = _logits(rng, production_y, k, skill=0.8, scale=2.5)
    models = [
        ModelScores("finetuned", "candidate", "Fine-tuned encoder", softmax_rows(candidate)),
        ModelScores("tfidf", "baseline", "TF-IDF + logistic regression",
                    softmax_rows(_logits(rng, y, k, skill=0.74, scale=1.0))),
        ModelScores("keywords", "baseline", "Keyword rules",
                    softmax_rows(_logits(rng, y, k, skill=0.5, scale=1.0)),
                    note="Play 1's simplest baseline"),
    ]
    production = ProductionSample(
        texts=[f"production row {i}" for i in range(90)], candidate_logits=production_logits,
        reference_probabilities=softmax_rows(_logits(rng, production_y, k, skill=0.7, scale=1.0)),
        labels=production_y if labelled_production else None, dataset=7)
    inputs = ReportInputs(
        texts=texts, y_true=y, label_names=list(labels), models=models, metric=metric, direction=direction,
        margin=margin, positive=positive,
        calibration=Calibration(_logits(rng, val_y, k, skill=0.86, scale=2.5), val_y, candidate),
        production=production,
        columns={"channel": list(rng.choice(["email", "chat", "phone"], n, p=[.5, .44, .06]))},
        latency={"finetuned": {"p50_ms": 6.2, "p95_ms": 11.8, "throughput_per_s": 410.0, "calls": 200,
                               "batch_size": 32}},
        resamples=500, seed=0)
    return evaluation_report(inputs)


@pytest.fixture(scope="module")
def report():
    return build_report()


@pytest.fixture(scope="module")
def lower_report():
    """False-positive rate of the first class: lower is better, and McNemar is reported."""
    return build_report(metric="false_positive_rate", direction="lower", positive=0, margin=0.01)


META = {
    "project": "Ticket routing", "cycle": 2, "evaluation": 11, "generated_at": "2025-03-04T10:15:00+00:00",
    "candidate_checkpoint_sha256": "a" * 64, "test_split_sha256": "b" * 64, "predictions_sha256": "c" * 64,
    "answers": {"beat_baseline": "Yes: ten points of macro-F1, well past the two we committed to.",
                "failures_acceptable": "The confusions between billing and access are tolerable for routing.",
                "holds_on_production": "The estimate is lower; we will watch it in Play 6."},
    "decision": {"decision": "approve", "label": "Approve the candidate for production",
                 "reason": "Beats the baseline by the margin with acceptable failures.",
                 "decided_by": "signoff", "decided_at": "2025-03-04T10:20:00+00:00"},
    "approvals": [{"by": "signoff", "at": "2025-03-04T10:20:00+00:00"}],
}


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.find(f"{SVG}title") is not None
    assert root.get("width") and root.get("height") and root.get("viewBox")
    return root


def _all_text(root: ET.Element) -> str:
    return " ".join("".join(node.itertext()) for node in root.iter(f"{SVG}text"))


def _numbers_are_finite(svg: str):
    """No coordinate or size is NaN or infinite."""
    for value in re.findall(r'\s(?:x|y|x1|x2|y1|y2|cx|cy|r|width|height)="([^"]*)"', svg):
        assert math.isfinite(float(value)), value


# --- charts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_every_chart_is_one_valid_svg_element(report, kind):
    svg = CHARTS[kind](report)
    _parse(svg)
    _numbers_are_finite(svg)


def test_the_verdicts_are_the_engines():
    assert (charts.BEATS, charts.BETTER, charts.INDISTINGUISHABLE, charts.WORSE) == (
        stats.BEATS, stats.BETTER, stats.INDISTINGUISHABLE, stats.WORSE)


def _x(root, cls):
    (line,) = [node for node in root.iter(f"{SVG}line") if node.get("class") == cls]
    return float(line.get("x1"))


@pytest.mark.parametrize("which", ["report", "lower_report"])
def test_the_margin_line_is_on_the_better_side_of_zero_and_better_is_right(which, request):
    report = request.getfixturevalue(which)
    root = _parse(charts.delta_chart(report))
    assert _x(root, "margin") > _x(root, "zero")
    assert "better \u2192" in _all_text(root)
    (point,) = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point main"]
    value = report["delta"]["value"]
    improved = value > 0 if report["direction"] == "higher" else value < 0
    assert (float(point.get("cx")) > _x(root, "zero")) == improved


def test_the_candidates_interval_is_coloured_by_its_verdict(report):
    root = _parse(charts.delta_chart(report))
    (bar,) = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "interval main"]
    assert bar.get("fill") == charts.VERDICT_COLOUR[report["delta"]["verdict"]]
    others = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "interval other"]
    assert len(others) == len(report["models"]) - 2  # neither the candidate nor the reference itself


def test_an_interval_with_equal_ends_still_shows(report):
    broken = copy.deepcopy(report)
    broken["delta"]["ci"] = [0.05, 0.05]
    root = _parse(charts.delta_chart(broken))
    (bar,) = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "interval main"]
    assert float(bar.get("width")) >= 2


def test_the_models_chart_highlights_the_candidate_and_marks_the_reference(report):
    root = _parse(charts.models_chart(report))
    points = [c.get("class") for c in root.iter(f"{SVG}circle")]
    assert sorted(points) == ["point candidate", "point other", "point reference"]
    assert [n for n in root.iter(f"{SVG}line") if n.get("class") == "reference-line"]
    roles = ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == "role"]
    assert sorted(roles) == ["candidate", "reference"]


@pytest.mark.parametrize("score", ["f1", "precision", "recall"])
def test_the_per_class_chart_has_one_bar_per_model_and_class(report, score):
    root = _parse(charts.per_class_chart(report, score))
    bars = [r.get("class") for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("bar")]
    assert bars.count("bar candidate") == bars.count("bar reference") == len(LABELS)
    whiskers = [g for g in root.iter(f"{SVG}g") if g.get("class") == "whisker"]
    assert len(whiskers) == 2 * len(LABELS)


def test_the_reliability_chart_draws_both_panels_and_is_empty_without_calibration(report):
    root = _parse(charts.reliability_chart(report))
    assert len([n for n in root.iter(f"{SVG}line") if n.get("class") == "diagonal"]) == 2
    bins = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bin"]
    cal = report["calibration"]
    assert len(bins) == len(cal["before"]["reliability"]) + len(cal["after"]["reliability"])
    assert charts.reliability_chart({**report, "calibration": None}) == ""


def test_the_confusion_heat_map_writes_every_count(report):
    root = _parse(charts.confusion_heatmap(report))
    cells = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("cell")]
    assert len(cells) == len(LABELS) ** 2
    written = [int("".join(t.itertext())) for g in cells for t in g.iter(f"{SVG}text")]
    assert sum(written) == report["rows"]
    _parse(charts.confusion_heatmap(report, "reference"))


def test_thirty_classes_with_huge_names_shrink_and_keep_the_full_name_as_a_tooltip():
    labels = [f"class {i} " + "with a remarkably long and descriptive name " * 4 for i in range(30)]
    matrix = [[(i * j) % 7 for j in range(30)] for i in range(30)]
    matrix[4] = [0] * 30  # a true label with no rows
    svg = charts.confusion_heatmap({"confusion": {"labels": labels, "candidate": matrix}})
    root = _parse(svg)
    assert len([g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("cell")]) == 900
    sizes = {float(t.get("font-size")) for g in root.iter(f"{SVG}g") if g.get("class") == "cell"
             for t in g.iter(f"{SVG}text")}
    assert max(sizes) < 11
    titles = {"".join(t.itertext()) for t in root.iter(f"{SVG}title")}
    assert labels[0] in titles
    shown = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert all(len(text) <= 28 for text in shown if "class " in text)
    assert "1  class 0 with a remarkabl\u2026" in shown  # rows numbered, the columns carry the numbers
    assert float(root.get("width")) < 1200


def test_a_single_class_and_missing_parts_do_not_break_the_charts():
    one = {"label_names": ["only"], "confusion": {"labels": ["only"], "candidate": [[5]]},
           "per_class": {"only": {"support": 5, "f1": {"reference": {"value": 1.0, "ci": [1.0, 1.0]},
                                                        "candidate": {"value": 1.0, "ci": [1.0, 1.0]},
                                                        "delta": {"value": 0.0, "ci": [0.0, 0.0]}}}}}
    for svg in (charts.confusion_heatmap(one), charts.per_class_chart(one), charts.delta_chart(one),
                charts.models_chart(one), charts.confusion_heatmap({}), charts.per_class_chart({})):
        _parse(svg)
        _numbers_are_finite(svg)
    assert charts.reliability_chart({}) == ""


def _poison(report):
    """NaN, None and missing values wherever the report holds numbers."""
    bad = copy.deepcopy(report)
    bad["delta"].update(value=float("nan"), ci=[None, float("nan")])
    bad["margin"] = None
    first = next(iter(bad["models"].values()))
    first.update(value=float("nan"), ci=[float("inf"), None], vs_reference={"value": None, "ci": None})
    label = next(iter(bad["per_class"]))
    bad["per_class"][label]["f1"]["candidate"] = {"value": None, "ci": [float("nan"), 0.5]}
    bad["per_class"][label]["f1"]["delta"] = {"value": float("nan"), "ci": [None, None]}
    bad["calibration"]["before"]["reliability"].append(
        {"low": 0.1, "high": None, "rows": 0, "confidence": None, "accuracy": float("nan")})
    bad["calibration"]["after"]["reliability"][0]["confidence"] = float("nan")
    bad["calibration"]["temperature"] = float("nan")
    bad["confusion"]["candidate"][0] = [None] * len(bad["confusion"]["labels"])
    bad["confusion"]["candidate"][1] = [0] * len(bad["confusion"]["labels"])
    bad["production"]["psi"] = float("nan")
    bad["production"]["estimate"]["value"] = None
    bad["delta"]["mcnemar"] = {"b": 3, "c": 9, "p": float("nan")}
    return bad


def test_nan_and_none_values_are_written_as_missing_and_never_plotted(report):
    bad = _poison(report)
    for kind, draw in CHARTS.items():
        svg = draw(bad)
        _parse(svg)
        _numbers_are_finite(svg)
        assert not re.search(r"\bnan\b|\binf\b", svg, re.I), kind
        assert "n/a" in svg or kind == "confusion", kind
    html = render_to_string("evaluation/_report.html", {"report": bad})
    assert not re.search(r"\bnan\b|\binf\b", html, re.I)
    assert "\u2014" in html


def test_hostile_label_text_is_escaped_in_the_svg_and_the_html():
    texts = [f'<img src="http://example.com/{i}.png"> & "row"' for i in range(300)]
    hostile = build_report(labels=HOSTILE, texts=texts)
    for kind, draw in CHARTS.items():
        svg = draw(hostile)
        _parse(svg)  # an unescaped "<", "&" or quote would not parse
        assert "<script" not in svg and "<img" not in svg, kind
    root = _parse(charts.confusion_heatmap(hostile))
    titles = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}title"))
    assert HOSTILE[0] in titles and HOSTILE[1] in _all_text(root)  # the long one cut, whole in its tooltip
    html = record_html(hostile, META)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "A &amp; B" in html


def test_a_hostile_project_name_cannot_leave_the_records_style_sheet(report):
    name = 'Routing"; } body { display: none } </style><script>alert(1)</script>'
    html = record_html(report, {**META, "project": name})
    style = html[html.index("<style>"):html.index("</style>")]
    assert "</" not in style[1:] and "<script" not in html and "display: none" not in style
    assert record_pdf(html).startswith(b"%PDF-")


def test_control_characters_in_a_label_are_dropped_not_written():
    bell = {"confusion": {"labels": ["bell\x07", "ok"], "candidate": [[1, 0], [0, 1]]}}
    svg = charts.confusion_heatmap(bell)
    assert "\x07" not in svg
    _parse(svg)


# --- the template filters --------------------------------------------------------------------------------


def test_the_filters_format_fractions_intervals_and_missing_values():
    entry = {"value": 0.8734, "ci": [0.8512, 0.8941]}
    assert tags.interval(entry) == "0.873 [0.851, 0.894]"
    assert tags.interval([0.8512, 0.8941]) == "[0.851, 0.894]"
    minus = "\u2212"
    wide = {"value": -0.012, "ci": [-0.03, 0.004]}
    assert tags.signed_interval(wide) == f"{minus}0.012 [{minus}0.030, +0.004]"
    assert tags.signed(0.1041) == "+0.104" and tags.signed(-0.0002) == "+0.000"
    assert tags.pct(0.8734) == "87.3%"
    assert tags.points(0.1041) == "+10.4 percentage points"
    for missing in (None, float("nan"), "x"):
        assert tags.num(missing) == tags.pct(missing) == tags.signed(missing) == "\u2014"
    assert tags.interval({"value": None, "ci": [None, None]}) == "\u2014"
    assert tags.psi_reading(0.05).startswith("stable")
    assert "moderate" in tags.psi_reading(0.2) and "large" in tags.psi_reading(0.4)
    assert tags.pvalue(0.0001) == "p < 0.001" and tags.pvalue(0.0312) == "p = 0.031"


def test_entries_reads_a_mapping_even_when_a_key_is_called_items():
    assert tags.entries({"items": 1, "b": 2}) == [("items", 1), ("b", 2)]
    assert tags.get({"a": 1}, "a") == 1 and tags.get(None, "a") is None


def test_the_chart_tag_embeds_the_svg_unescaped(report):
    html = render_to_string("evaluation/_report.html", {"report": report})
    # delta, models, per class, reliability, the candidate's heat map and the reference's (folded away)
    assert html.count("<svg ") == 6 and "&lt;svg" not in html
    assert 'aria-label="Reference: confusion matrix' in html


# --- the report partial --------------------------------------------------------------------------------


def test_the_report_states_the_verdict_the_margin_and_why_this_is_the_reference(report):
    html = render_to_string("evaluation/_report.html", {"report": report})
    assert report["delta"]["recommendation"] in html
    assert "the strongest baseline on macro-F1" in html
    assert tags.signed_interval(report["delta"]) in html
    assert "margin committed in Play 1" in html
    assert "too few to judge" in html  # the phone channel has under 30 rows
    assert f"{report['regressions_count']}" in html and "fitted on the validation split" in html


def test_an_unlabelled_production_sample_is_shown_as_an_estimate(report):
    html = render_to_string("evaluation/_report.html", {"report": report})
    assert "ESTIMATE" in html and "population stability index" in html.lower()
    assert tags.psi_reading(report["production"]["psi"]) in html


def test_a_labelled_production_sample_is_shown_as_measured():
    labelled = build_report(labelled_production=True)
    html = render_to_string("evaluation/_report.html", {"report": labelled})
    assert "ESTIMATE" not in html and "Measured on" in html
    assert tags.signed_interval(labelled["production"]["measured"]["delta"]) in html


def test_mcnemar_and_a_lower_is_better_metric(lower_report):
    html = render_to_string("evaluation/_report.html", {"report": lower_report})
    m = lower_report["delta"]["mcnemar"]
    assert m is not None and f"<strong>{m['b']}</strong>" in html and f"<strong>{m['c']}</strong>" in html
    assert "lower is better" in html


def test_an_absent_report_renders_a_line_not_an_error():
    assert "No evaluation report yet" in render_to_string("evaluation/_report.html", {"report": None})


def test_without_calibration_production_or_latency_the_report_says_so(report):
    bare = {**report, "calibration": None, "production": None, "latency": None}
    html = render_to_string("evaluation/_report.html", {"report": bare})
    assert "No calibration" in html and "No production sample" in html and "not measured" in html


# --- the sign-off record -------------------------------------------------------------------------------


def test_the_record_holds_the_decision_the_answers_and_the_hashes(report):
    html = record_html(report, META)
    assert html.lstrip().lower().startswith("<!doctype html>") and "@page" in html
    assert META["decision"]["label"] in html and META["decision"]["reason"] in html
    for answer in META["answers"].values():
        assert answer in html
    for key in ("candidate_checkpoint_sha256", "test_split_sha256", "predictions_sha256"):
        assert META[key] in html
    for question in ("Did it beat the baseline by a margin worth the complexity?",
                     "Where does it fail, and are those failures acceptable?",
                     "Does it hold on production-like data?"):
        assert question in html


def test_the_record_points_at_nothing_outside_itself(report):
    html = record_html(report, META)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:|//)""", html, re.I)
    assert "<link" not in html and "<script" not in html and "@import" not in html and "url(" not in html


def test_the_record_without_approvals_or_answers_still_renders(report):
    meta = {**META, "approvals": [], "answers": {}}
    html = record_html(report, meta)
    assert "No approvals recorded" in html and "No answer written" in html


def test_the_pdf_renders_and_fetches_nothing(report, monkeypatch):
    refused = []

    class Spy(RefusingFetcher):
        def fetch(self, url, headers=None):
            refused.append(url)
            return super().fetch(url, headers)

    monkeypatch.setattr("apps.evaluation.record.RefusingFetcher", Spy)
    html = record_html(report, META).replace(
        "</body>", '<img src="http://example.com/x.png"><img src="file:///etc/hostname"></body>')
    pdf = record_pdf(html)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    assert refused == ["http://example.com/x.png", "file:///etc/hostname"]


def test_the_refusing_fetcher_refuses_every_scheme():
    fetcher = RefusingFetcher()
    for url in ("http://example.com/", "https://example.com/", "file:///etc/passwd", "data:text/plain,hi"):
        with pytest.raises(ValueError):
            fetcher(url)
