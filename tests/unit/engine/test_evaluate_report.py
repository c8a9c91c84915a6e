"""Play 5's report: every figure matches scikit-learn on the same predictions, one bootstrap draw serves
every model, and the reference is chosen by the rules."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from workers.engine import evaluation as stats
from workers.engine.evaluate import (BASELINE, CANDIDATE, FROZEN_HEAD, PRODUCTION, Calibration, ModelScores,
                                     ProductionSample, ReportInputs, bootstrap_models, evaluation_report)

K = 3
NAMES = ["billing", "login", "shipping"]


def _probs(rng, y, accuracy):
    """Probabilities whose argmax is right on about ``accuracy`` of the rows."""
    n = len(y)
    right = rng.random(n) < accuracy
    predicted = np.where(right, y, (y + rng.integers(1, K, n)) % K)
    logits = rng.normal(0, 0.5, (n, K))
    logits[np.arange(n), predicted] += 2.0
    return logits


def _inputs(seed=0, n=600, production=None, metric="macro_f1", direction="higher"):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    texts = [" ".join(["word"] * int(rng.integers(1, 30))) + f" {i}" for i in range(n)]
    cand_logits = _probs(rng, y, 0.85) * 3  # overconfident: temperature scaling should help
    models = [
        ModelScores("candidate", CANDIDATE, "Candidate", stats.calibrated(cand_logits, 1.0)),
        ModelScores("frozen_head", FROZEN_HEAD, "Frozen-base head", stats.calibrated(_probs(rng, y, 0.8), 1.0)),
        ModelScores("majority", BASELINE, "Majority class", np.tile(np.eye(K)[0], (n, 1))),
        ModelScores("tfidf_logreg", BASELINE, "TF-IDF", stats.calibrated(_probs(rng, y, 0.7), 1.0)),
    ]
    val_y = rng.integers(0, K, 300)
    calibration = Calibration(_probs(rng, val_y, 0.85) * 3, val_y, cand_logits)
    return ReportInputs(texts=texts, y_true=y, label_names=NAMES, models=models, metric=metric,
                        direction=direction, margin=0.02, calibration=calibration, production=production,
                        resamples=1000, seed=7, positive=1 if metric == "false_positive_rate" else None)


def test_figures_equal_scikit_learn_and_the_reference_is_the_strongest_baseline():
    inputs = _inputs()
    report = evaluation_report(inputs)
    assert report["reference"] == "tfidf_logreg" and report["reference_kind"] == BASELINE
    y = inputs.y_true
    for model in inputs.models:
        pred = model.probabilities.argmax(axis=1)
        entry = report["models"][model.name]
        assert entry["value"] == pytest.approx(f1_score(y, pred, average="macro", labels=range(K), zero_division=0))
        assert entry["accuracy"] == pytest.approx(accuracy_score(y, pred))
        assert entry["ci"][0] <= entry["value"] <= entry["ci"][1]
    delta = report["delta"]
    assert delta["value"] == pytest.approx(report["models"]["candidate"]["value"] - report["models"]["tfidf_logreg"]["value"])
    # One draw for all four models: the same distribution as paired_bootstrap's draw for two, so the
    # intervals agree to Monte Carlo error; for the two models alone it is the very same draw.
    ref_pred, cand_pred = inputs.models[3].probabilities.argmax(1), inputs.models[0].probabilities.argmax(1)
    paired = stats.paired_bootstrap(y, ref_pred, cand_pred, "macro_f1", num_labels=K, resamples=1000, seed=7)
    assert delta["ci"] == pytest.approx(list(paired.delta_ci), abs=0.02)
    alone, _ = bootstrap_models(y, {"tfidf_logreg": ref_pred, "candidate": cand_pred}, reference="tfidf_logreg",
                                metric="macro_f1", num_labels=K, positive=None, resamples=1000, seed=7)
    assert alone["candidate"]["delta"]["ci"] == pytest.approx(list(paired.delta_ci))
    assert alone["candidate"]["ci"] == pytest.approx(list(paired.candidate_ci))
    assert delta["verdict"] == stats.verdict(tuple(paired.delta_ci), margin=0.02, direction="higher")
    assert delta["mcnemar"] is None  # macro-F1: McNemar's test is for accuracy and the false-positive rate
    cm = report["confusion"]["candidate"]
    assert sum(map(sum, cm)) == len(y)
    assert report["regressions_count"] == int(np.sum((inputs.models[3].probabilities.argmax(1) == y)
                                                     & (inputs.models[0].probabilities.argmax(1) != y)))
    assert all(r["label"] == r["reference"] != r["candidate"] for r in report["regressions"])
    assert set(report["slices"]["text length"]) and all(s["rows"] > 0 for s in report["slices"]["text length"].values())
    assert report["calibration"]["after"]["ece"] < report["calibration"]["before"]["ece"]


def test_the_same_seed_gives_the_same_report_and_another_seed_another_interval():
    first, again = evaluation_report(_inputs()), evaluation_report(_inputs())
    first.pop("statistics_seconds"), again.pop("statistics_seconds")
    assert first == again
    other = _inputs()
    other.seed = 8
    assert evaluation_report(other)["delta"]["ci"] != first["delta"]["ci"]


def test_a_production_model_is_the_reference_in_a_later_cycle():
    inputs = _inputs()
    inputs.models.append(ModelScores("production", PRODUCTION, "In production", inputs.models[1].probabilities))
    assert evaluation_report(inputs)["reference"] == "production"


def test_a_lower_is_better_metric_reports_mcnemar_and_picks_the_lowest_baseline():
    report = evaluation_report(_inputs(metric="false_positive_rate", direction="lower"))
    assert set(report["delta"]["mcnemar"]) == {"b", "c", "p"}
    values = {n: m["value"] for n, m in report["models"].items() if m["kind"] == BASELINE}
    assert report["reference"] == min(values, key=values.get)


def test_production_sample_labelled_is_measured_and_unlabelled_is_an_estimate():
    rng = np.random.default_rng(3)
    y = rng.integers(0, K, 200)
    logits = _probs(rng, y, 0.8)
    measured = evaluation_report(_inputs(production=ProductionSample(["t"] * 200, logits, labels=y)))["production"]
    assert measured["labelled"] and "measured" in measured and "estimate" not in measured
    assert measured["measured"]["candidate"]["value"] == pytest.approx(
        f1_score(y, logits.argmax(1), average="macro", labels=range(K), zero_division=0))
    estimated = evaluation_report(_inputs(production=ProductionSample(["t"] * 200, logits)))["production"]
    assert not estimated["labelled"] and "measured" not in estimated
    assert 0 <= estimated["estimate"]["value"] <= 1 and estimated["psi"] >= 0
    assert "estimate" in estimated["estimate"]["note"]


def test_bad_shapes_and_two_candidates_are_refused():
    inputs = _inputs()
    inputs.models[2] = ModelScores("majority", BASELINE, "Majority", np.zeros((5, K)))
    with pytest.raises(ValueError, match="shape"):
        evaluation_report(inputs)
    inputs = _inputs()
    inputs.models[1].kind = CANDIDATE
    with pytest.raises(ValueError, match="one candidate"):
        evaluation_report(inputs)
