"""Play 6's drift statistics: each signal against a hand computation or a known answer, windows, the alert
policy, and the two things monitoring must get right on demo streams: no false alarms on traffic like the
reference, and an alert within a few windows once the traffic drifts."""
import json
import math
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.metrics.pairwise import rbf_kernel

from bench.drift_check import (
    NEW_WORDING,
    chat_stream,
    demo_monitoring,
    label_mix_stream,
    new_vocabulary_stream,
    same_distribution_stream,
)
from demo.generate import LABELS, generate
from workers.engine import drift as d
from workers.engine.evaluation import calibrated, confidence_based_estimate

WINDOW = 300
FLOOR = 0.82  # the demo model's macro-F1 is about 0.87-0.92 on traffic like the reference


def _probs_with_predictions(predicted, k, confidence):
    """Probability rows whose argmax is ``predicted`` with top probability ``confidence``."""
    probs = np.full((len(predicted), k), (1 - confidence) / (k - 1))
    probs[np.arange(len(predicted)), predicted] = confidence
    return probs


# --- the domain classifier -------------------------------------------------------------------------------


def test_the_rank_auc_equals_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + y * 0.5, 1)  # rounded: many ties
    assert d._auc(scores, y) == pytest.approx(roc_auc_score(y, scores))


def test_texts_from_one_distribution_are_indistinguishable():
    """A seeded random split of one generated sample: the two sides are exchangeable, as the null says."""
    sample, _ = generate(seed=21, rows=1200, production_rows=10)
    order = np.random.default_rng(0).permutation(len(sample))
    texts = [sample[i]["text"] for i in order]
    result = d.domain_classifier_drift(texts[:600], texts[600:], permutations=200, seed=0)
    assert 0.45 < result["auc"] < 0.55
    assert result["p_value"] > 0.1
    assert 0.5 < result["null_p95"] < 0.56
    assert result["rows"] == {"reference": 600, "window": 600}
    again = d.domain_classifier_drift(texts[:600], texts[600:], permutations=200, seed=0)
    assert again == result


def test_chat_traffic_is_told_apart_and_explained():
    sample, production = generate(seed=22, rows=600, production_rows=300)
    reference = [row["text"] for row in sample]
    window = [row["text"] for row in production]
    result = d.domain_classifier_drift(reference, window, permutations=200, seed=0)
    assert result["auc"] > 0.9
    assert result["p_value"] == pytest.approx(1 / 201)  # no permutation came close: the smallest p there is
    explanation = result["explanation"]
    window_terms = [t["term"] for t in explanation["more_in_window"]]
    assert "pls" in window_terms
    assert all(t["window_share"] > t["reference_share"] and t["weight"] > 0
               for t in explanation["more_in_window"])
    assert all(t["reference_share"] > t["window_share"] and t["weight"] < 0
               for t in explanation["more_in_reference"])
    examples = explanation["most_window_like"]
    assert len(examples) == 5
    assert [e["window_probability"] for e in examples] == sorted((e["window_probability"] for e in examples),
                                                                  reverse=True)
    assert all(window[e["index"]] == e["text"] for e in examples)


def test_new_vocabulary_is_found_and_named():
    """One generated sample split at random; 30% of the window's tickets then mention a new integration."""
    rows = same_distribution_stream(23, 900)
    texts = [rows[i]["text"] for i in np.random.default_rng(0).permutation(len(rows))]
    rng = random.Random(0)
    window = [f"{t} {rng.choice(NEW_WORDING)}" if rng.random() < 0.3 else t for t in texts[600:]]
    result = d.domain_classifier_drift(texts[:600], window, permutations=200, seed=0)
    # Only 30% of the window is new, so the AUC cannot go far past 0.5 + 0.3 / 2; significant all the same.
    assert result["auc"] > 0.6 and result["p_value"] < 0.01
    assert result["explanation"]["more_in_window"][0]["term"] == "zephyr"
    assert all("zephyr" in e["text"].lower() for e in result["explanation"]["most_window_like"])


def test_the_domain_classifier_refuses_too_few_texts():
    with pytest.raises(ValueError, match="at least"):
        d.domain_classifier_drift(["a b", "c d"], ["e f"] * 10)


# --- maximum mean discrepancy ----------------------------------------------------------------------------


def test_mmd_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.3, 1.0, size=(20, 4))
    result = d.mmd_drift(x, y, permutations=0)
    pooled = np.vstack([x, y])
    distances = np.sqrt(((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1))
    sigma = np.median(distances[np.triu_indices(50, 1)])
    assert result["bandwidth"] == pytest.approx(sigma)
    k = rbf_kernel(pooled, gamma=1 / (2 * sigma**2))
    kxx, kyy, kxy = k[:30, :30], k[30:, 30:], k[:30, 30:]
    expected = ((kxx.sum() - 30) / (30 * 29) + (kyy.sum() - 20) / (20 * 19) - 2 * kxy.mean())
    assert result["mmd2"] == pytest.approx(expected)
    assert result["p_value"] is None


def test_mmd_of_identical_samples_is_about_zero_with_a_large_p():
    x = np.random.default_rng(2).normal(size=(300, 16))
    result = d.mmd_drift(x, x.copy(), permutations=200, seed=0)
    assert abs(result["mmd2"]) < 0.01
    assert result["p_value"] > 0.5


def test_mmd_on_the_same_distribution_is_not_significant_and_a_shift_is():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(1000, 16))
    same = d.mmd_drift(reference, rng.normal(size=(300, 16)), permutations=200, seed=0)
    assert same["p_value"] > 0.05 and same["mmd2"] < same["null_p95"] * 3
    shifted_rows = rng.normal(size=(300, 16))
    shifted_rows[:, :3] += 0.5  # half a standard deviation along three of sixteen axes
    shifted = d.mmd_drift(reference, shifted_rows, permutations=200, seed=0)
    assert shifted["p_value"] < 0.01
    assert shifted["mmd2"] > 3 * shifted["null_p95"]


def test_the_witness_points_at_the_window_rows_the_reference_lacks():
    rng = np.random.default_rng(4)
    window = rng.normal(size=(200, 8))
    window[:15] += 6.0  # a small cluster far from everything in the reference
    result = d.mmd_drift(rng.normal(size=(400, 8)), window, permutations=50, seed=0)
    assert {row["index"] for row in result["most_unlike_reference"]} <= set(range(15))


def test_mmd_refuses_mismatched_dimensions():
    with pytest.raises(ValueError, match="dimension"):
        d.mmd_drift(np.zeros((5, 3)), np.zeros((5, 4)))


# --- the model's outputs ---------------------------------------------------------------------------------


def test_output_psi_matches_a_hand_computation():
    reference = _probs_with_predictions([0] * 50 + [1] * 30 + [2] * 20, 3, 0.9)
    window = _probs_with_predictions([0] * 30 + [1] * 30 + [2] * 40, 3, 0.7)
    result = d.output_drift(reference, window, label_names=["a", "b", "c"])
    # shares 0.5/0.3/0.2 -> 0.3/0.3/0.4: (0.3-0.5)ln(0.3/0.5) + 0 + (0.4-0.2)ln(0.4/0.2)
    by_hand = -0.2 * math.log(0.6) + 0.2 * math.log(2.0)
    assert result["psi"] == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.2408, abs=1e-4) and result["band"] == "moderate"
    assert result["labels"][2] == {"label": "c", "reference_share": 0.2, "window_share": 0.4}
    assert result["mean_confidence"]["change"] == pytest.approx(0.7 - 0.9)
    assert result["confidence_ks"]["p_value"] < 1e-6


def test_psi_bands():
    assert [d.psi_band(v) for v in (0.0, 0.099, 0.1, 0.25, 0.2501)] == [
        "stable", "stable", "moderate", "moderate", "large"]


# --- performance -----------------------------------------------------------------------------------------


def _model_outputs(seed, n=400, k=4):
    """Probabilities from a calibrated toy model and labels drawn from them (so the estimate is honest)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 2.0
    probs = calibrated(logits, 1.0)
    labels = np.array([rng.choice(k, p=p) for p in probs])
    return logits, probs, labels


def test_without_labels_performance_is_the_confidence_based_estimate():
    _, probs, _ = _model_outputs(5)
    result = d.performance(probs, None, metric="macro_f1", num_labels=4)
    assert result["estimate"] is True and result["realised"] is None and result["ci"] is None
    assert result["estimated"]["estimate"] is True
    assert result["value"] == pytest.approx(confidence_based_estimate(probs)["macro_f1"])
    accuracy = d.performance(probs, None, metric="accuracy", num_labels=4)
    assert accuracy["value"] == pytest.approx(confidence_based_estimate(probs)["accuracy"])


def test_with_enough_labels_performance_is_realised_with_an_interval():
    _, probs, labels = _model_outputs(6)
    arrived = np.where(np.arange(len(labels)) % 2 == 0, labels, -1)
    result = d.performance(probs, arrived, metric="macro_f1", num_labels=4, seed=0)
    truth, guess = labels[::2], probs.argmax(axis=1)[::2]
    assert result["estimate"] is False and result["labelled"] == 200
    assert result["value"] == pytest.approx(f1_score(truth, guess, average="macro"))
    low, high = result["ci"]
    assert low < result["value"] < high and high - low < 0.2
    assert result["estimated"]["estimate"] is True  # the estimate is still reported, and marked
    assert abs(result["estimated_on_labelled"] - result["value"]) < 0.1  # calibrated: estimate ≈ measurement
    few = d.performance(probs, np.where(np.arange(len(labels)) < 20, labels, -1), metric="macro_f1",
                        num_labels=4, min_labelled=50)
    assert few["estimate"] is True and few["labelled"] == 20 and few["realised"] is None


def test_the_temperature_recalibrates_the_estimate_but_not_the_predictions():
    logits, probs, _ = _model_outputs(7)
    hot = d.performance(probs, None, metric="accuracy", num_labels=4, temperature=2.0)
    assert hot["value"] == pytest.approx(confidence_based_estimate(calibrated(logits, 2.0))["accuracy"])
    assert hot["value"] < d.performance(probs, None, metric="accuracy", num_labels=4)["value"]


def test_a_lower_is_better_metric_keeps_its_direction():
    _, probs, labels = _model_outputs(8)
    result = d.performance(probs, labels, metric="false_positive_rate", num_labels=4, positive=1)
    assert result["direction"] == "lower" and result["estimate"] is False
    with pytest.raises(ValueError, match="unknown metric"):
        d.performance(probs, labels, metric="auc", num_labels=4)


# --- windows ---------------------------------------------------------------------------------------------


def test_windows_close_by_count_or_by_time_whichever_comes_first():
    rows = [{"time": float(t), "id": i} for i, t in enumerate([0, 1, 2, 3, 4, 5, 100, 101, 300])]
    found = d.windows(rows, size=3, max_age_seconds=50, min_size=2)
    assert [w["size"] for w in found] == [3, 3, 2, 1]
    assert [w["closed_by"] for w in found] == ["count", "count", "time", None]
    assert [w["judged"] for w in found] == [True, True, True, False]
    assert [r["id"] for r in found[2]["rows"]] == [6, 7]
    assert found[2]["start"] == 100 and found[2]["end"] == 101 and found[2]["closes_at"] == 150


def test_a_small_window_closed_by_time_is_not_judged_and_now_closes_the_last():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [{"at": start + timedelta(minutes=m)} for m in (0, 1, 70, 71, 72)]
    found = d.windows(list(reversed(rows)), size=100, max_age_seconds=3600, min_size=3, time_key="at",
                      now=start + timedelta(minutes=200))
    assert [(w["size"], w["closed_by"], w["judged"]) for w in found] == [(2, "time", False),
                                                                          (3, "time", True)]
    still_open = d.windows(rows, size=100, max_age_seconds=3600, min_size=3, time_key="at")
    assert still_open[-1]["closed_by"] is None and still_open[-1]["judged"] is False


# --- the policy ------------------------------------------------------------------------------------------


def _entry(rows=300, time=None, **effects):
    values = {}
    for signal, effect in effects.items():
        if signal == d.PERFORMANCE:
            values[signal] = effect
        else:
            values[signal] = {"effect": effect, "p_value": 0.001 if signal in (d.TEXT, d.EMBEDDING) else None}
    return {"rows": rows, "time": time, "values": values}


def _perf(value, ci=None, direction="higher"):
    return {"metric": "macro_f1", "direction": direction, "value": value, "ci": ci, "estimate": ci is None}


def test_an_alert_needs_persistence():
    policy = d.AlertPolicy()  # 2 of the last 3 judged windows
    history = [_entry(text=0.8), _entry(text=0.5), _entry(text=0.5), _entry(text=0.8), _entry(text=0.5),
               _entry(text=0.8)]
    decisions = d.evaluate_policy(history, policy)
    assert [x["breached"] for x in decisions] == [["text"], [], [], ["text"], [], ["text"]]
    assert [bool(x["alerts"]) for x in decisions] == [False, False, False, False, False, True]
    alert = decisions[5]["alerts"][0]
    assert alert["signal"] == "text" and alert["audience"] == "data_owner" and "AUC 0.800" in alert["reason"]
    assert not any(x["retrain"] for x in decisions)  # drift alone never retrains


def test_a_significance_is_required_as_well_as_an_effect():
    entry = {"rows": 300, "time": None, "values": {"text": {"effect": 0.9, "p_value": 0.2}}}
    assert d.breaches(entry["values"], d.AlertPolicy()) == {"text": False}


def test_cooldown_by_windows_and_by_time():
    policy = d.AlertPolicy(cooldown_windows=3)
    decisions = d.evaluate_policy([_entry(prediction_mix=0.3) for _ in range(10)], policy)
    fired = [i for i, x in enumerate(decisions) if x["alerts"]]
    assert fired == [1, 5, 9]
    assert decisions[2]["suppressed"] == ["prediction_mix"]
    timed = d.AlertPolicy(cooldown_windows=0, cooldown_seconds=3600)
    history = [_entry(time=t * 1200.0, prediction_mix=0.3) for t in range(8)]  # a window every 20 minutes
    fired = [i for i, x in enumerate(d.evaluate_policy(history, timed)) if x["alerts"]]
    assert fired == [1, 4, 7]


def test_windows_too_small_are_not_judged_and_do_not_count():
    policy = d.AlertPolicy(min_window=200)
    history = [_entry(text=0.8), _entry(rows=50, text=0.9), _entry(text=0.8)]
    decisions = d.evaluate_policy(history, policy)
    assert [x["judged"] for x in decisions] == [True, False, True]
    assert decisions[1]["breached"] == [] and decisions[2]["alerts"][0]["signal"] == "text"


def test_a_realised_breach_retrains_at_once_an_estimated_one_needs_persistence():
    policy = d.AlertPolicy(performance_floor=0.8)
    realised = d.evaluate_policy([_entry(performance=_perf(0.7, ci=[0.62, 0.78]))], policy)[0]
    assert realised["retrain"] is True and "realised" in realised["retrain_reason"]
    assert realised["alerts"][0]["audience"] == "model_owner"
    # Below the floor, but the interval reaches above it: not a breach.
    unsure = d.evaluate_policy([_entry(performance=_perf(0.75, ci=[0.66, 0.84]))], policy)[0]
    assert unsure["breached"] == [] and unsure["retrain"] is False
    estimated = d.evaluate_policy([_entry(performance=_perf(0.7)), _entry(performance=_perf(0.85)),
                                   _entry(performance=_perf(0.7))], policy)
    assert [x["retrain"] for x in estimated] == [False, False, True]
    assert "estimated" in estimated[2]["retrain_reason"]
    # A lower-is-better metric: the floor is a ceiling.
    fpr = d.evaluate_policy([_entry(performance=_perf(0.2, ci=[0.15, 0.25], direction="lower"))],
                            d.AlertPolicy(performance_floor=0.1))[0]
    assert fpr["retrain"] is True and "above the ceiling" in fpr["retrain_reason"]


def test_a_realised_breach_on_few_labels_or_a_thin_class_needs_persistence():
    policy = d.AlertPolicy(performance_floor=0.8)
    thin = _perf(0.35, ci=[0.26, 0.43]) | {"labelled": 58, "smallest_class": 2}
    first = d.evaluate_policy([_entry(performance=thin)], policy)[0]
    assert first["breached"] == ["performance"] and first["retrain"] is False  # breached, not yet acted on
    again = d.evaluate_policy([_entry(performance=thin), _entry(performance=thin)], policy)
    assert [x["retrain"] for x in again] == [False, True]
    few_rows = _perf(0.5, ci=[0.4, 0.6]) | {"labelled": 80, "smallest_class": 12}
    assert d.evaluate_policy([_entry(performance=few_rows)], policy)[0]["retrain"] is False
    solid = _perf(0.5, ci=[0.4, 0.6]) | {"labelled": 400, "smallest_class": 30}
    assert d.evaluate_policy([_entry(performance=solid)], policy)[0]["retrain"] is True
    assert d.evaluate_policy([_entry(performance=solid)],
                             d.AlertPolicy(performance_floor=0.8, solid_labels=500))[0]["retrain"] is False


def test_the_retrain_trigger_cools_down():
    policy = d.AlertPolicy(performance_floor=0.8, cooldown_windows=2)
    history = [_entry(performance=_perf(0.6, ci=[0.5, 0.7])) for _ in range(5)]
    assert [x["retrain"] for x in d.evaluate_policy(history, policy)] == [True, False, False, True, False]


def test_the_policy_checks_itself_and_round_trips():
    with pytest.raises(ValueError, match="no such drift signal"):
        d.AlertPolicy(thresholds={"vibes": 1.0})
    with pytest.raises(ValueError, match="persistence"):
        d.AlertPolicy(persistence=4, lookback=3)
    policy = d.AlertPolicy(thresholds={"text": 0.7}, performance_floor=0.8, cooldown_seconds=60)
    assert policy.thresholds["text"] == 0.7
    assert policy.thresholds["embedding"] == d.DEFAULT_THRESHOLDS["embedding"]
    assert d.AlertPolicy.from_dict(json.loads(json.dumps(policy.as_dict()))) == policy


# --- drift_check and the demo streams --------------------------------------------------------------------


@pytest.fixture(scope="module")
def monitoring():
    return demo_monitoring(seed=100)


def _run_stream(monitoring, rows, *, policy, labelled_every=3, start=0.0):
    """Cut ``rows`` (one every 10 s) into windows of WINDOW rows and run drift_check on each in turn."""
    stamped = [{**row, "time": start + 10.0 * i} for i, row in enumerate(rows)]
    results, history = [], []
    for window in d.windows(stamped, size=WINDOW, max_age_seconds=86_400, min_size=200):
        if window["closed_by"] is None:
            continue
        logged = monitoring.window(window["rows"], labelled_every=labelled_every, time=window["end"])
        result = d.drift_check(monitoring.reference, logged, policy=policy, metric="macro_f1",
                               temperature=monitoring.temperature, label_names=LABELS, history=history)
        results.append(result)
        history.append(result["summary"])
    return results


@pytest.fixture(scope="module")
def same_distribution_results(monitoring):
    """20 windows of 300 e-mail tickets from seeds the reference never used."""
    rows = same_distribution_stream(seed=200, rows=20 * WINDOW)
    return _run_stream(monitoring, rows, policy=d.AlertPolicy())


def test_drift_check_returns_every_signal_json_ready(monitoring, same_distribution_results):
    result = same_distribution_results[0]
    json.dumps(result, allow_nan=False)
    assert result["judged"] is True
    assert set(result["signals"]) == set(d.SIGNALS)
    for signal in d.DRIFT_SIGNALS:
        assert {"threshold", "breached"} <= set(result["signals"][signal])
    assert {"auc", "p_value", "null_p95", "explanation"} <= set(result["signals"]["text"])
    assert {"mmd2", "p_value", "bandwidth"} <= set(result["signals"]["embedding"])
    assert result["signals"]["performance"]["estimated"]["estimate"] is True
    assert result["rows"] == {"reference": 1000, "window": WINDOW, "labelled": WINDOW // 3}
    assert result["summary"]["rows"] == WINDOW and result["decision"]["index"] == 0
    assert {"text", "embedding", "total"} <= set(result["seconds"])
    # The same window again gives the same answer (everything is seeded).
    first = same_distribution_stream(seed=200, rows=20 * WINDOW)[:WINDOW]
    logged = monitoring.window(first, labelled_every=3, time=result["summary"]["time"])
    again = d.drift_check(monitoring.reference, logged, metric="macro_f1", temperature=monitoring.temperature,
                          label_names=LABELS)
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in result.items() if k != "seconds"}


def test_a_window_under_the_minimum_is_not_judged(monitoring):
    small = monitoring.window(same_distribution_stream(seed=201, rows=50))
    result = d.drift_check(monitoring.reference, small, metric="macro_f1")
    assert result["judged"] is False and result["signals"] is None and result["decision"]["judged"] is False
    json.dumps(result, allow_nan=False)


def test_no_false_alarms_on_traffic_like_the_reference(same_distribution_results):
    assert len(same_distribution_results) == 20
    assert all(r["judged"] for r in same_distribution_results)
    assert [r["decision"]["alerts"] for r in same_distribution_results] == [[]] * 20
    # With the project's performance floor too (the policy is re-applied to the same windows' values).
    history = [r["summary"] for r in same_distribution_results]
    decisions = d.evaluate_policy(history, d.AlertPolicy(performance_floor=FLOOR))
    assert not any(x["alerts"] or x["retrain"] for x in decisions)
    # Not even single-window breaches of the drift signals are common: at most one in twenty windows.
    assert sum(bool(r["breached"]) for r in same_distribution_results) <= 1


def test_no_false_alarms_when_window_and_reference_are_exchangeable(monitoring):
    """A stricter null: one generated pool split at random into the reference and 20 windows of 200, so
    the window and the reference are exchangeable exactly as the permutation tests assume."""
    pool = same_distribution_stream(seed=300, rows=1000 + 20 * 200)
    order = np.random.default_rng(0).permutation(len(pool))
    pool = [pool[i] for i in order]
    reference = monitoring.window(pool[:1000])
    history, pvalues = [], []
    for start in range(1000, len(pool), 200):
        logged = monitoring.window(pool[start:start + 200], labelled_every=3)
        result = d.drift_check(reference, logged, metric="macro_f1", temperature=monitoring.temperature,
                               policy=d.AlertPolicy(performance_floor=FLOOR), history=history)
        history.append(result["summary"])
        pvalues += [result["signals"]["text"]["p_value"], result["signals"]["embedding"]["p_value"]]
        assert result["decision"]["alerts"] == [] and result["decision"]["retrain"] is False
    assert len(history) == 20
    assert np.mean(np.array(pvalues) < 0.05) <= 0.1  # the tests hold their level


def _first_alert(results, signal=None):
    for i, result in enumerate(results):
        if any(signal is None or a["signal"] == signal for a in result["decision"]["alerts"]):
            return i
    return None


def test_chat_traffic_trips_within_two_windows_of_its_onset(monitoring):
    clean = same_distribution_stream(seed=400, rows=4 * WINDOW)
    drifted = chat_stream(seed=400, rows=4 * WINDOW)
    results = _run_stream(monitoring, clean + drifted, policy=d.AlertPolicy(performance_floor=FLOOR))
    assert all(not r["decision"]["alerts"] for r in results[:4])
    assert _first_alert(results[4:], "text") == 1  # the second drifted window: 2 of the last 3 breached
    assert _first_alert(results[4:], "embedding") == 1
    fired = results[5]["decision"]["alerts"]
    assert {a["audience"] for a in fired if a["signal"] != "performance"} == {"data_owner"}
    explanation = results[5]["signals"]["text"]["explanation"]
    assert any(t["term"] in {"pls", "thx", "asap", "ok"} for t in explanation["more_in_window"])
    # The realised macro-F1 on the late labels falls below the floor: a retrain is triggered.
    retrains = [i for i, r in enumerate(results) if r["decision"]["retrain"]]
    assert retrains and retrains[0] >= 4 and retrains[0] <= 7


def test_an_estimated_performance_breach_retrains_only_when_it_persists(monitoring):
    """No labels have arrived: the confidence-based estimate carries the performance signal."""
    rows = chat_stream(seed=500, rows=4 * WINDOW)
    history = []
    for start in range(0, len(rows), WINDOW):
        logged = monitoring.window(rows[start:start + WINDOW])
        perf = d.performance(logged["probs"], None, metric="macro_f1", num_labels=len(LABELS),
                             temperature=monitoring.temperature)
        history.append({"rows": WINDOW, "time": None, "values": {"performance": {
            "metric": "macro_f1", "direction": perf["direction"], "value": perf["value"], "ci": perf["ci"],
            "estimate": perf["estimate"]}}})
        assert perf["estimate"] is True and perf["value"] < FLOOR
    decisions = d.evaluate_policy(history, d.AlertPolicy(performance_floor=FLOOR))
    assert [x["retrain"] for x in decisions][:2] == [False, True]


def test_new_vocabulary_trips_the_text_signal_only(monitoring):
    results = _run_stream(monitoring, new_vocabulary_stream(seed=600, rows=4 * WINDOW, share=0.4),
                          policy=d.AlertPolicy(performance_floor=FLOOR))
    assert _first_alert(results, "text") == 1
    assert not any(r["decision"]["retrain"] for r in results)  # drift alone: the data owner hears of it
    assert results[1]["signals"]["text"]["explanation"]["more_in_window"][0]["term"] == "zephyr"


def test_a_shifted_label_mix_trips_the_prediction_mix(monitoring):
    mix = {"account_cancellation": 0.05, "billing": 0.10, "bug_report": 0.15, "data_privacy": 0.05,
           "feature_request": 0.05, "how_to": 0.10, "login_access": 0.50}
    results = _run_stream(monitoring, label_mix_stream(seed=700, rows=4 * WINDOW, mix=mix),
                          policy=d.AlertPolicy())
    assert _first_alert(results, "prediction_mix") == 1
    assert results[1]["signals"]["prediction_mix"]["band"] in {"moderate", "large"}
