"""Numbers people can judge: spreads over folds, repeated latency with its spread, within-noise verdicts,
human units, and the Play 1 / Play 2 pages that show them (including results stored before spreads were
recorded). Timings are injected: nothing here asserts on a real clock."""
import math

import pytest
from django.test import Client

from apps.core.templatetags.units import bytes_human, count_human, duration_human, ms
from apps.playbook.models import Play
from apps.playbook.services import gate_decide, play_record_evidence, play_update_deliverable
from apps.training.candidates import candidate_register
from apps.training.figures import latency_comparison, quality_comparison, target_comparison
from tests.conftest import PASSWORD
from workers.engine.spread import (compare_latency, fold_scores, fold_spread, latency_stats, measure_latency,
                                   within_noise)


# -- folds ---------------------------------------------------------------------------------------------------

def test_fold_spread_is_mean_sample_sd_and_range():
    spread = fold_spread([0.8, 0.9, 0.7, None])
    assert spread["n"] == 3 and spread["values"] == [0.8, 0.9, 0.7]
    assert spread["mean"] == pytest.approx(0.8) and spread["sd"] == pytest.approx(0.1)  # sample sd (n - 1)
    assert (spread["min"], spread["max"]) == (0.7, 0.9)
    assert fold_spread([0.5])["sd"] == 0.0
    assert fold_spread([]) is None and fold_spread([None, float("nan")]) is None


def test_fold_scores_score_each_fold_on_its_own_rows():
    labels = ["a", "a", "b", "b", "a", "b"]
    predictions = ["a", "b", "b", "b", "a", "a"]
    splits = [([3, 4, 5], [0, 1, 2]), ([0, 1, 2], [3, 4, 5])]  # fold 1: 2 of 3 right; fold 2: 2 of 3 right
    scores = fold_scores(labels, predictions, splits, positive_label="b")
    assert scores["accuracy"]["values"] == pytest.approx([2 / 3, 2 / 3]) and scores["accuracy"]["sd"] == 0
    # False positives: fold 1 has one "a" predicted "b" out of two negatives; fold 2 none out of one.
    assert scores["false_positive_rate"]["values"] == pytest.approx([0.5, 0.0])
    assert set(fold_scores(labels, predictions, splits)) == {"accuracy", "macro_f1"}  # no positive class, no FPR


def test_within_noise_against_a_target_and_between_two_spreads():
    a = {"mean": 0.80, "sd": 0.03}
    assert within_noise(a, 0.82) is True and within_noise(a, 0.84) is False
    assert within_noise(a, {"mean": 0.75, "sd": 0.06}) is True  # the larger sd decides
    assert within_noise(a, {"mean": 0.75, "sd": 0.01}) is False
    assert within_noise(None, 0.8) is None and within_noise(a, None) is None


def test_target_and_candidate_comparisons_in_words():
    spread = {"mean": 0.80, "sd": 0.03, "n": 5, "min": 0.76, "max": 0.84}
    close = target_comparison(spread, 0.82, "macro_f1")
    assert close["within_noise"] and "within noise" in close["words"] and "5 folds" in close["words"]
    assert not target_comparison(spread, 0.9, "macro_f1")["within_noise"]
    assert target_comparison(None, 0.9, "macro_f1") is None  # an old result: nothing to judge by
    a = {"folds_spread": {"macro_f1": {"mean": 0.81, "sd": 0.02, "n": 5}}}
    b = {"folds_spread": {"macro_f1": {"mean": 0.80, "sd": 0.04, "n": 5}}}
    compared = quality_comparison("big", a, "small", b, "macro_f1")
    assert compared["within_noise"] and compared["difference"] == pytest.approx(0.01)
    assert "within noise" in compared["words"]
    assert quality_comparison("big", a, "old", {"macro_f1": 0.7}, "macro_f1") is None


# -- latency -------------------------------------------------------------------------------------------------

def test_latency_stats_median_iqr_and_p10_p90():
    stats = latency_stats([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (stats["median_ms"], stats["p25_ms"], stats["p75_ms"]) == (3.0, 2.0, 4.0)
    assert stats["p10_ms"] == pytest.approx(1.4) and stats["p90_ms"] == pytest.approx(4.6)
    assert stats["repeats"] == 5
    with pytest.raises(ValueError):
        latency_stats([])


def test_measure_latency_warms_up_then_times_each_repeat_of_a_fixed_batch():
    calls, now = [], [0.0]

    def clock():
        return now[0]

    def predict(text):  # warm-up calls take no time; in timed pass k (1..5) each call takes k ms
        calls.append(text)
        if len(calls) > 2 * 3:
            now[0] += ((len(calls) - 2 * 3 - 1) // 3 + 1) / 1000.0

    result = measure_latency(predict, ["x", "y"], batch=3, repeats=5, warmup=2, clock=clock)
    assert calls[:6] == ["x", "y", "x", "x", "y", "x"]  # the fixed batch cycles through the texts
    assert len(calls) == 2 * 3 + 5 * 3
    assert result["median_ms"] == pytest.approx(3.0) and result["p25_ms"] == pytest.approx(2.0)
    assert result["p75_ms"] == pytest.approx(4.0) and result["repeats"] == 5
    assert (result["batch"], result["warmup"]) == (3, 2)
    assert result["p50_latency_ms"] == pytest.approx(3.0) and result["p95_latency_ms"] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="at least 5"):
        measure_latency(predict, ["x"], repeats=4)
    with pytest.raises(ValueError):
        measure_latency(predict, [], repeats=5)


def _latency(median, p25, p75, repeats=7):
    return {"median_ms": median, "p25_ms": p25, "p75_ms": p75, "repeats": repeats}


def test_compare_latency_within_noise_and_the_smaller_model_measuring_slower():
    fast, noisy = _latency(4.0, 3.8, 4.2), _latency(4.3, 3.9, 4.9)
    within = compare_latency(fast, noisy)
    assert within["within_noise"] and within["noise_ms"] == pytest.approx(1.0)
    assert within["difference_ms"] == pytest.approx(-0.3)
    apart = compare_latency(_latency(2.0, 1.9, 2.1), _latency(4.0, 3.9, 4.1))
    assert not apart["within_noise"] and apart["noise_ms"] == pytest.approx(0.2)
    # a (fewer parameters) measured slower: unexpected; the same numbers with a larger are expected.
    assert compare_latency(_latency(4.0, 3.9, 4.1), _latency(2.0, 1.9, 2.1), a_size=4e6, b_size=22e6)["unexpected"]
    assert not compare_latency(_latency(4.0, 3.9, 4.1), _latency(2.0, 1.9, 2.1), a_size=22e6, b_size=4e6)["unexpected"]
    assert not compare_latency(_latency(4.0, 3.9, 4.1), _latency(2.0, 1.9, 2.1))["unexpected"]


def test_latency_comparison_words_and_caveat():
    small = {"parameters": 4_400_000, "latency": _latency(6.0, 5.5, 6.5)}
    large = {"parameters": 22_700_000, "latency": _latency(4.0, 3.8, 4.2)}
    compared = latency_comparison("shallow", small, "deep", large, device="cpu")
    assert not compared["within_noise"] and "beyond the noise" in compared["words"]
    assert "shallow is the smaller model (4.4 M parameters against 22.7 M)" in compared["caveat"]
    assert "this worker's cpu" in compared["caveat"] and "differences under 1.0 ms are noise" in compared["caveat"]
    assert latency_comparison("deep", large, "shallow", small)["caveat"]  # the order of the pair does not matter
    assert not latency_comparison("a", large, "b", {**small, "parameters": 30_000_000})["caveat"]
    assert latency_comparison("a", large, "old", {"p95_latency_ms": 3.0, "parameters": 1}) is None


# -- human units ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (0, "0"), (512, "512"), (4_400, "4.4 k"), (22_713_216, "22.7 M"), (999_600, "1.0 M"), (999_400, "999 k"),
    (1_300_000_000, "1.3 B"), (10**18, "1000000 T"), (-4_400, "−4.4 k"), (None, "—"), ("many", "—"),
    (float("nan"), "—"), (float("inf"), "—"), (True, "—"), ("4400", "4.4 k"),
])
def test_count_human(value, expected):
    assert count_human(value) == expected


@pytest.mark.parametrize("value, expected", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 kB"), (91_855_872, "87.6 MB"), (1_288_490_189, "1.2 GB"),
    (2**50 * 3, "3.0 PB"), (-2048, "−2.0 kB"), (None, "—"), ("", "—"),
])
def test_bytes_human(value, expected):
    assert bytes_human(value) == expected


@pytest.mark.parametrize("value, expected", [
    (0, "0 s"), (0.85, "850 ms"), (3.21, "3.2 s"), (59.96, "1 min"), (72, "1 min 12 s"), (3600, "1 h"),
    (7_500, "2 h 5 min"), (3 * 86_400 + 4 * 3600, "3 d 4 h"), (-72, "−1 min 12 s"), (None, "—"), ("x", "—"),
])
def test_duration_human(value, expected):
    assert duration_human(value) == expected


@pytest.mark.parametrize("value, expected", [
    (0, "0 ms"), (0.004, "<0.01 ms"), (0.05, "0.05 ms"), (4.12, "4.1 ms"), (412.3, "412 ms"), (1250, "1.25 s"),
    (-3.3, "−3.3 ms"), (None, "—"), (math.inf, "—"),
])
def test_ms(value, expected):
    assert ms(value) == expected


# -- the pages -----------------------------------------------------------------------------------------------

def _page(play, username="mo") -> str:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    response = client.get(f"/plays/{play.pk}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_play1_shows_the_spread_and_an_old_result_still_renders(team, sample_upload):
    from tests.helpers import measure_baseline

    play = measure_baseline(team, sample_upload, target=0.99)
    baselines = play.evidence["baseline"]["results"]["baselines"]
    tfidf = baselines["tfidf_logreg"]
    assert tfidf["folds_spread"]["macro_f1"]["n"] == 3 and tfidf["latency"]["repeats"] >= 5
    html = _page(play)
    spread = tfidf["folds_spread"]["macro_f1"]
    assert f"{spread['mean']:.3f} ± {spread['sd']:.3f}" in html
    assert "mean ± standard deviation over the 3 cross-validation folds" in html
    assert f"({tfidf['latency']['repeats']} runs)" in html and 'id="no-spread-note"' not in html
    assert "over folds" in html  # the gate check names the spread of the best baseline

    # A result stored before spreads were recorded: same numbers, no folds_spread or latency.
    old = {name: {k: v for k, v in numbers.items() if k not in ("folds_spread", "latency")}
           for name, numbers in baselines.items()}
    evidence = {**play.evidence["baseline"], "results": {**play.evidence["baseline"]["results"], "baselines": old}}
    play_record_evidence(actor="worker", play=play, key="baseline", value=evidence)
    html = _page(Play.objects.get(pk=play.pk))
    assert 'id="baseline-table"' in html and 'id="no-spread-note"' in html and "measured once" in html
    assert f"{old['tfidf_logreg']['macro_f1']:.4f}" in html and "no spread over folds recorded" in html


@pytest.mark.django_db
def test_play1_says_when_the_target_is_within_the_baselines_noise(team, sample_upload):
    from tests.helpers import measure_baseline

    play = measure_baseline(team, sample_upload, target=0.99)
    baselines = play.evidence["baseline"]["results"]["baselines"]
    spread = max(baselines.values(), key=lambda numbers: numbers["macro_f1"])["folds_spread"]["macro_f1"]
    assert spread["sd"] > 0, "the sample gives no spread over folds; the test needs one"
    near = round(spread["mean"] + spread["sd"] / 2, 4)
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"target": min(near, 1.0)})
    html = _page(play)
    assert 'id="target-noise"' in html and "Within noise." in html
    far = play_update_deliverable(actor=team["mo"], play=play, deliverable={"target": 0.001})
    html = _page(far)
    assert "Within noise." not in html and 'id="target-noise"' not in html and "lies beyond one standard" in html


def _card(*, mean, sd, median, p25, p75, parameters, layers):
    spread = {"mean": mean, "sd": sd, "min": mean - sd, "max": mean + sd, "n": 5, "values": [mean] * 5}
    return {"macro_f1": mean, "accuracy": mean, "folds_spread": {"macro_f1": spread, "accuracy": spread},
            "latency": {"median_ms": median, "p25_ms": p25, "p75_ms": p75, "p10_ms": p25, "p90_ms": p75,
                        "repeats": 7, "batch": 16, "warmup": 1, "p50_latency_ms": median, "p95_latency_ms": p75},
            "p50_latency_ms": median, "p95_latency_ms": p75, "throughput_per_s": 100.0, "parameters": parameters,
            "layers": layers, "model_bytes": parameters * 4, "peak_memory_bytes": parameters * 4, "device": "cpu"}


@pytest.mark.django_db
def test_play2_shows_spreads_noise_verdicts_the_latency_caveat_and_old_cards(team, sample_upload):
    from tests.helpers import submitted_play1

    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    play = Play.objects.get(cycle=play1.cycle, number=2)
    fields = {"licence": "Apache-2.0", "domain_rating": 3, "latency_budget_ms": 50, "memory_budget_mb": 1024}
    deep, shallow, old = (candidate_register(actor=team["mo"], project=team["project"], name=name,
                                             source=f"some-org/{name}", **fields)
                          for name in ("deep-encoder", "shallow-encoder", "older-encoder"))
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"shortlist": [deep.pk, shallow.pk, old.pk]})
    cards = {
        str(deep.pk): _card(mean=0.84, sd=0.03, median=4.0, p25=3.9, p75=4.1, parameters=22_713_216, layers=6),
        str(shallow.pk): _card(mean=0.82, sd=0.02, median=6.0, p25=5.8, p75=6.2, parameters=4_386_176, layers=2),
        str(old.pk): {"macro_f1": 0.7, "accuracy": 0.71, "p50_latency_ms": 3.0, "p95_latency_ms": 3.5,
                      "throughput_per_s": 80.0, "parameters": 1_000_000, "peak_memory_bytes": 2**20 * 300},
    }
    play_record_evidence(actor="worker", play=play, key="bakeoff", value={
        "job": 1, "dataset": 1, "metric": "macro_f1", "rows": 45, "folds": 5, "device": "cpu",
        "ranking": [deep.pk, shallow.pk, old.pk], "candidates": cards})
    html = _page(Play.objects.get(pk=play.pk))
    assert "0.840 ± 0.030" in html and "22.7 M" in html and "4.4 M" in html and "86.6 MB" in html
    assert "within noise of the best" in html  # shallow: 0.02 behind, the larger sd is 0.03
    assert "Within noise.</strong> macro_f1: deep-encoder 0.840 vs shallow-encoder 0.820" in html
    assert "shallow-encoder is the smaller model (4.4 M parameters against 22.7 M) yet measured slower" in html
    assert "4.0 ms" in html and "5.8 ms–6.2 ms (7 runs)" in html
    assert 'id="no-spread-note"' in html and "older-encoder" in html and "measured once" in html
    assert "300 MB" in html
