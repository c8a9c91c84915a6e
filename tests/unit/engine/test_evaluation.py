"""Play 5's statistics: agreement with scikit-learn, a seeded and honest paired interval, the verdict,
McNemar, calibration, PSI and the label-free estimate."""
import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, f1_score

from workers.engine import evaluation as ev


def _two_models(rng, n, k, p_ref, p_cand, *, shared=0.8):
    """Truth and two models' predictions, each row right with its model's probability, else a wrong class at
    random. Like real models, they tend to fail on the same hard rows: with probability ``shared`` a row's
    outcome for both comes from one difficulty draw (which keeps each model's accuracy)."""
    y = rng.integers(0, k, size=n)
    difficulty = rng.random(n)
    linked = rng.random(n) < shared

    def model(p):
        right = np.where(linked, difficulty < p, rng.random(n) < p)
        wrong = (y + rng.integers(1, k, size=n)) % k
        return np.where(right, y, wrong)

    return y, model(p_ref), model(p_cand)


def test_metrics_equal_scikit_learn():
    rng = np.random.default_rng(0)
    y, a, b = _two_models(rng, 500, 5, 0.7, 0.8)
    b[b == 4] = 3  # a class never predicted: its F1 is 0, as scikit-learn's zero_division=0 says
    for pred in (a, b):
        assert ev.metric_value(y, pred, "accuracy", num_labels=5) == pytest.approx(accuracy_score(y, pred))
        assert ev.metric_value(y, pred, "macro_f1", num_labels=5) == pytest.approx(
            f1_score(y, pred, average="macro", labels=range(5), zero_division=0))
        negatives = y != 2
        fpr = np.mean(pred[negatives] == 2)
        assert ev.metric_value(y, pred, "false_positive_rate", num_labels=5, positive=2) == pytest.approx(fpr)


def test_the_paired_interval_is_seeded_and_centred_on_the_difference():
    rng = np.random.default_rng(1)
    y, ref, cand = _two_models(rng, 400, 4, 0.75, 0.85)
    first = ev.paired_bootstrap(y, ref, cand, "macro_f1", num_labels=4, resamples=10_000, seed=3)
    again = ev.paired_bootstrap(y, ref, cand, "macro_f1", num_labels=4, resamples=10_000, seed=3)
    assert first == again
    assert first.delta == pytest.approx(first.candidate - first.reference)
    assert first.delta_ci[0] < first.delta < first.delta_ci[1]
    assert first.reference_ci[0] < first.reference < first.reference_ci[1]
    other = ev.paired_bootstrap(y, ref, cand, "macro_f1", num_labels=4, resamples=10_000, seed=4)
    assert other.delta_ci != first.delta_ci and abs(other.delta_ci[0] - first.delta_ci[0]) < 0.01
    # The same model against itself: no difference, and no width to the interval on it.
    same = ev.paired_bootstrap(y, ref, ref, "accuracy", num_labels=4, resamples=2_000, seed=0)
    assert same.delta == 0 and same.delta_ci == (0.0, 0.0)


def test_the_95_percent_interval_covers_a_known_difference_about_95_percent_of_the_time():
    """500 simulated test sets where the candidate is truly 5 points more accurate than the reference:
    the paired 95% interval must contain the true difference in 93-97% of them."""
    rng = np.random.default_rng(2026)
    true_delta, covered, simulations = 0.85 - 0.80, 0, 500
    for i in range(simulations):
        y, ref, cand = _two_models(rng, 300, 3, 0.80, 0.85)
        result = ev.paired_bootstrap(y, ref, cand, "accuracy", num_labels=3, resamples=1_000, seed=i)
        covered += result.delta_ci[0] <= true_delta <= result.delta_ci[1]
    assert 0.93 <= covered / simulations <= 0.97, covered / simulations


def test_mcnemar_counts_the_discordant_pairs():
    y = np.array([0] * 20)
    ref = np.array([0] * 10 + [1] * 10)   # right on the first 10
    cand = np.array([0] * 8 + [1] * 2 + [0] * 4 + [1] * 6)  # right on 8 of those and on 4 others
    result = ev.mcnemar(y, ref, cand)
    assert (result["b"], result["c"]) == (2, 4)
    assert result["p"] == pytest.approx(binomtest(4, 6, 0.5).pvalue)
    assert ev.mcnemar(y, ref, ref) == {"b": 0, "c": 0, "p": 1.0}


@pytest.mark.parametrize("ci, margin, direction, expected", [
    ((0.031, 0.08), 0.02, "higher", ev.BEATS),
    ((0.005, 0.06), 0.02, "higher", ev.BETTER),
    ((-0.01, 0.04), 0.02, "higher", ev.INDISTINGUISHABLE),
    ((-0.05, -0.01), 0.02, "higher", ev.WORSE),
    # False-positive rate: lower is better, so a drop of 3-6 points beats a 2-point margin.
    ((-0.06, -0.03), 0.02, "lower", ev.BEATS),
    ((0.01, 0.03), 0.02, "lower", ev.WORSE),
])
def test_the_verdict_reads_the_interval_against_the_margin(ci, margin, direction, expected):
    assert ev.verdict(ci, margin=margin, direction=direction) == expected


def test_temperature_scaling_fitted_on_validation_calibrates_an_overconfident_model():
    rng = np.random.default_rng(5)
    n, k = 4_000, 4
    true_logits = rng.normal(size=(n, k)) * 1.5
    probabilities = ev.calibrated(true_logits, 1.0)
    y = np.array([rng.choice(k, p=p) for p in probabilities])  # labels drawn from the model: calibrated
    calibrated_ece = ev.expected_calibration_error(probabilities, y)
    overconfident = true_logits * 3  # the same ranking, far too sure of itself
    assert ev.expected_calibration_error(ev.calibrated(overconfident, 1.0), y) > calibrated_ece + 0.1
    val, test = slice(0, n // 2), slice(n // 2, n)
    temperature = ev.fit_temperature(overconfident[val], y[val])
    assert temperature == pytest.approx(3.0, rel=0.15)
    after = ev.calibrated(overconfident[test], temperature)
    assert ev.expected_calibration_error(after, y[test]) < 0.04
    assert ev.brier_score(after, y[test]) < ev.brier_score(ev.calibrated(overconfident[test], 1.0), y[test])
    bins = ev.reliability(after, y[test])
    assert sum(b["rows"] for b in bins) == n // 2 and all(0 <= b["accuracy"] <= 1 for b in bins)
    # Without labels, calibrated probabilities estimate the accuracy they will have.
    estimate = ev.confidence_based_estimate(after)
    realised = float(np.mean(after.argmax(axis=1) == y[test]))
    assert estimate["accuracy"] == pytest.approx(realised, abs=0.03)


def test_population_stability_index():
    assert ev.population_stability_index([50, 30, 20], [50, 30, 20]) == 0.0
    shifted = ev.population_stability_index([50, 30, 20], [20, 30, 50])
    assert shifted == pytest.approx((0.2 - 0.5) * np.log(0.2 / 0.5) + (0.5 - 0.2) * np.log(0.5 / 0.2))
    assert shifted > 0.25
    with pytest.raises(ValueError):
        ev.population_stability_index([0, 0], [1, 1])


def test_per_class_scores_and_their_changes_match_scikit_learn():
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(7)
    y, ref, cand = _two_models(rng, 600, 3, 0.7, 0.8)
    report = ev.per_class(y, ref, cand, label_names=["a", "b", "c"], resamples=2_000, seed=1)
    for model, pred in (("reference", ref), ("candidate", cand)):
        precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=range(3), zero_division=0)
        for i, label in enumerate("abc"):
            assert report[label]["precision"][model]["value"] == pytest.approx(precision[i])
            assert report[label]["recall"][model]["value"] == pytest.approx(recall[i])
            assert report[label]["f1"][model]["value"] == pytest.approx(f1[i])
            assert report[label]["support"] == support[i]
    for label in "abc":
        delta = report[label]["f1"]["delta"]
        assert delta["ci"][0] <= delta["value"] <= delta["ci"][1]


def test_slices_report_too_few_under_30_rows_and_the_rows_that_changed():
    rng = np.random.default_rng(8)
    y, ref, cand = _two_models(rng, 200, 3, 0.7, 0.8)
    texts = [" ".join(["word"] * int(n)) for n in rng.integers(1, 40, size=200)]
    quartiles = ev.length_quartiles(texts)
    assert len(set(quartiles)) == 4 and all(q.startswith("Q") for q in quartiles)
    channel = np.where(np.arange(200) < 20, "chat", "email")  # 20 chat rows: too few to judge
    report = ev.slice_report(channel, y, ref, cand, "accuracy", num_labels=3, resamples=500)
    assert report["chat"] == {"rows": 20, "too_few": True}
    email = report["email"]
    assert email["rows"] == 180 and email["delta"]["ci"][0] <= email["delta"]["value"] <= email["delta"]["ci"][1]
    changed = ev.changed_rows(y, ref, cand)
    assert len(changed["regressions"]) == ev.mcnemar(y, ref, cand)["b"]
    assert len(changed["improvements"]) == ev.mcnemar(y, ref, cand)["c"]
    assert all(ref[i] == y[i] != cand[i] for i in changed["regressions"])
    probabilities = np.full((200, 3), 0.1)
    probabilities[np.arange(200), cand] = np.linspace(0.4, 0.8, 200)
    errors = ev.most_confident_errors(probabilities, y, top=5)
    assert errors == sorted(np.flatnonzero(cand != y).tolist(), key=lambda i: -probabilities[i].max())[:5]


def test_baselines_refit_on_train_predict_the_test_rows_with_probabilities():
    from workers.engine.baselines import refit_and_predict

    train = ["refund my money", "charged twice", "cannot log in", "password reset fails", "refund please",
             "log in broken"]
    labels = ["billing", "billing", "access", "access", "billing", "access"]
    test = ["I want a refund", "reset my password", "login page broken"]
    out = refit_and_predict(train, labels, test, ["access", "billing", "bug"])
    assert out["majority"]["predictions"] == ["access"] * 3  # tie broken alphabetically
    assert out["majority"]["probabilities"][:, 0].tolist() == [1.0, 1.0, 1.0]
    tfidf = out["tfidf_logreg"]
    assert tfidf["probabilities"].shape == (3, 3) and np.allclose(tfidf["probabilities"].sum(axis=1), 1)
    assert tfidf["probabilities"][:, 2].tolist() == [0.0, 0.0, 0.0]  # a label never seen in training
    assert tfidf["predictions"][0] == "billing" and tfidf["predictions"][1] == "access"


def test_latency_profile_times_single_calls_and_batches():
    calls = []

    def predict(texts):
        calls.append(len(texts))
        return ["x"] * len(texts)

    profile = ev.latency_profile(predict, ["a", "b", "c"], calls=200, warmup=5, batch_size=32)
    assert calls.count(1) == 205 and calls.count(32) == 4
    assert 0 <= profile["p50_ms"] <= profile["p95_ms"] and profile["throughput_per_s"] > 0


def test_drawing_prediction_patterns_is_the_same_bootstrap_as_drawing_rows():
    """resampled_confusions draws how often each joint prediction pattern occurs within a class; drawing the
    rows themselves (stratified_resamples) must give the same distribution of the paired difference."""
    import numpy as np

    from workers.engine.evaluation import (_confusions, metric_from_confusions, resampled_confusions,
                                           stratified_resamples)

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 400)
    ref = np.where(rng.random(400) < 0.7, y, rng.integers(0, 3, 400))
    cand = np.where(rng.random(400) < 0.8, y, rng.integers(0, 3, 400))
    (patterns,) = list(resampled_confusions(y, [ref, cand], num_labels=3, resamples=4000, seed=1, chunk=4000))
    by_pattern = metric_from_confusions(patterns[1], "macro_f1") - metric_from_confusions(patterns[0], "macro_f1")
    rows = stratified_resamples(y, 4000, np.random.default_rng(2))
    by_row = (metric_from_confusions(_confusions(y, cand, 3, rows), "macro_f1")
              - metric_from_confusions(_confusions(y, ref, 3, rows), "macro_f1"))
    assert patterns[0].sum(axis=(1, 2)).tolist() == [400] * 4000  # every resample keeps the row count...
    assert (patterns[0].sum(axis=2) == np.bincount(y, minlength=3)).all()  # ...and every class's count
    assert abs(by_pattern.mean() - by_row.mean()) < 3 * by_row.std() / np.sqrt(2000)
    assert by_pattern.std() == pytest.approx(by_row.std(), rel=0.08)
    assert np.percentile(by_pattern, 2.5) == pytest.approx(np.percentile(by_row, 2.5), abs=0.01)
