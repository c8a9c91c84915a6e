"""Play 5's statistics: a candidate against a reference on the same held-out rows, with honest uncertainty.

Everything here takes plain arrays (labels coded as integers 0..k-1, probabilities as an (n, k) array) and
knows nothing of Django. The numbers a sign-off owner decides on:

- ``paired_bootstrap``: the committed metric for both models and their difference, with percentile 95%
  intervals from one set of resamples of the test rows, drawn jointly for both models and stratified by true
  class (each resample keeps every class's count). Vectorised: within each class the resample draws how
  often each joint prediction pattern occurs (a multinomial), so the cost does not grow with rows ×
  resamples (``resampled_confusions``).
- ``mcnemar``: the exact test on the discordant pairs (rows exactly one of the two models got right).
- ``verdict``: the difference's interval against the margin committed in Play 1.
- calibration (expected calibration error, Brier score, a temperature fitted on validation logits),
  the population stability index of a predicted-label mix, and a label-free estimate of accuracy and
  macro-F1 from calibrated probabilities (confidence-based performance estimation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from scipy.stats import binomtest

QUALITY_METRICS = {"accuracy": "higher", "macro_f1": "higher", "false_positive_rate": "lower"}

BEATS = "beats the baseline by the margin"
BETTER = "better, but not by the margin"
INDISTINGUISHABLE = "indistinguishable"
WORSE = "worse"


def _confusions(y_true: np.ndarray, y_pred: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    """Confusion matrices (r, k, k) of the resamples ``rows`` (r, n) of row indices (true label by row)."""
    r = rows.shape[0]
    codes = (np.arange(r)[:, None] * k * k + y_true[rows] * k + y_pred[rows]).ravel()
    return np.bincount(codes, minlength=r * k * k).reshape(r, k, k)


def metric_from_confusions(confusions: np.ndarray, metric: str, positive: int | None = None) -> np.ndarray:
    """The metric of each confusion matrix in a stack (…, k, k); rows are true labels. Matches
    scikit-learn with ``labels=range(k)`` and ``zero_division=0``."""
    c = np.asarray(confusions, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    total = c.sum(axis=(-2, -1))
    if metric == "accuracy":
        return tp.sum(axis=-1) / total
    if metric == "macro_f1":
        support, predicted = c.sum(axis=-1), c.sum(axis=-2)
        denominator = support + predicted  # 2TP + FP + FN
        f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
        return f1.mean(axis=-1)
    if metric == "false_positive_rate":
        if positive is None:
            raise ValueError("false_positive_rate needs the positive class")
        negatives = total - c[..., positive, :].sum(axis=-1)
        false_positives = c[..., :, positive].sum(axis=-1) - c[..., positive, positive]
        return np.divide(false_positives, negatives, out=np.full_like(negatives, np.nan), where=negatives > 0)
    raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(QUALITY_METRICS)}")


def metric_value(y_true, y_pred, metric: str, *, num_labels: int, positive: int | None = None) -> float:
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    rows = np.arange(len(y_true))[None, :]
    return float(metric_from_confusions(_confusions(y_true, y_pred, num_labels, rows), metric, positive)[0])


def stratified_resamples(y_true: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) row indices: within each true class, draw that class's count with replacement."""
    columns = []
    for label in np.unique(y_true):
        members = np.flatnonzero(y_true == label)
        columns.append(members[rng.integers(0, len(members), size=(resamples, len(members)))])
    return np.concatenate(columns, axis=1)


def resampled_confusions(y_true, predictions, *, num_labels: int, resamples: int = 10_000, seed: int = 0,
                         chunk: int = 2_000):
    """Yield, chunk by chunk, every model's confusion matrices on the same stratified resamples of the rows:
    an (m, size, k, k) array per chunk for the m prediction vectors in ``predictions`` (a sequence).

    Resampling a class's rows with replacement only matters through how many times each *pattern* (the
    models' joint predictions on a row of that class) is drawn, so within each class the pattern counts are
    drawn from a multinomial with the patterns' shares: the same distribution as drawing the rows, at a cost
    that grows with the number of distinct patterns instead of rows × resamples."""
    y_true = np.asarray(y_true, dtype=np.int64)
    stacked = np.stack([np.asarray(p, dtype=np.int64) for p in predictions])
    m, k = stacked.shape[0], num_labels
    classes = []
    for label in np.unique(y_true):
        patterns, counts = np.unique(stacked[:, y_true == label], axis=1, return_counts=True)
        onehots = np.zeros((m, patterns.shape[1], k), dtype=np.int64)
        for j in range(m):
            onehots[j, np.arange(patterns.shape[1]), patterns[j]] = 1
        classes.append((int(label), counts, onehots))
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        confusions = np.zeros((m, size, k, k), dtype=np.int64)
        for label, counts, onehots in classes:
            drawn = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=size)  # (size, patterns)
            for j in range(m):
                confusions[j, :, label, :] = drawn @ onehots[j]
        yield confusions


def paired_confusions(y_true, reference_pred, candidate_pred, *, num_labels: int, resamples: int = 10_000,
                      seed: int = 0, chunk: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    """The two models' confusion matrices on the same stratified resamples: two (resamples, k, k) arrays."""
    parts = list(resampled_confusions(y_true, [reference_pred, candidate_pred], num_labels=num_labels,
                                      resamples=resamples, seed=seed, chunk=chunk))
    return (np.concatenate([p[0] for p in parts]).astype(np.int32),
            np.concatenate([p[1] for p in parts]).astype(np.int32))


@dataclass(frozen=True)
class PairedResult:
    metric: str
    reference: float
    candidate: float
    delta: float  # candidate - reference, in the metric's units
    reference_ci: tuple[float, float]
    candidate_ci: tuple[float, float]
    delta_ci: tuple[float, float]
    resamples: int
    seed: int

    def as_dict(self) -> dict:
        return {"metric": self.metric, "reference": {"value": self.reference, "ci": list(self.reference_ci)},
                "candidate": {"value": self.candidate, "ci": list(self.candidate_ci)},
                "delta": {"value": self.delta, "ci": list(self.delta_ci)},
                "resamples": self.resamples, "seed": self.seed}


def _percentile_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap(y_true, reference_pred, candidate_pred, metric: str, *, num_labels: int,
                     positive: int | None = None, resamples: int = 10_000, seed: int = 0,
                     level: float = 0.95, chunk: int = 2_000) -> PairedResult:
    """Both models' metric and the difference candidate − reference, each with a percentile interval from
    the same stratified resamples of the rows (so the interval on the difference accounts for the two
    models being scored on the same rows). Seeded: the same inputs give the same intervals."""
    y_true = np.asarray(y_true, dtype=np.int64)
    reference_pred = np.asarray(reference_pred, dtype=np.int64)
    candidate_pred = np.asarray(candidate_pred, dtype=np.int64)
    if not (len(y_true) == len(reference_pred) == len(candidate_pred)) or len(y_true) == 0:
        raise ValueError("the truth and both models' predictions must be non-empty and of equal length")
    ref_confusions, cand_confusions = paired_confusions(y_true, reference_pred, candidate_pred,
                                                        num_labels=num_labels, resamples=resamples, seed=seed,
                                                        chunk=chunk)
    ref_values = metric_from_confusions(ref_confusions, metric, positive)
    cand_values = metric_from_confusions(cand_confusions, metric, positive)
    reference = metric_value(y_true, reference_pred, metric, num_labels=num_labels, positive=positive)
    candidate = metric_value(y_true, candidate_pred, metric, num_labels=num_labels, positive=positive)
    return PairedResult(metric, reference, candidate, candidate - reference, _percentile_ci(ref_values, level),
                        _percentile_ci(cand_values, level), _percentile_ci(cand_values - ref_values, level),
                        resamples, seed)


def mcnemar(y_true, reference_pred, candidate_pred) -> dict:
    """McNemar's exact test: b = rows only the reference got right, c = rows only the candidate got right;
    p is the two-sided binomial probability of a split at least this uneven if both were equally good."""
    y_true = np.asarray(y_true)
    ref_right = np.asarray(reference_pred) == y_true
    cand_right = np.asarray(candidate_pred) == y_true
    b, c = int(np.sum(ref_right & ~cand_right)), int(np.sum(~ref_right & cand_right))
    p = 1.0 if b + c == 0 else float(binomtest(c, b + c, 0.5).pvalue)
    return {"b": b, "c": c, "p": p}


def verdict(delta_ci: tuple[float, float], *, margin: float, direction: str) -> str:
    """Where the difference's interval lies against the margin committed in Play 1. The difference is
    candidate − reference in the metric's units; for a lower-is-better metric an improvement is negative."""
    low, high = delta_ci
    if direction == "lower":  # turn it into "how much better", which is positive when the candidate wins
        low, high = -high, -low
    elif direction != "higher":
        raise ValueError(f"unknown direction {direction!r}")
    if low > margin:
        return BEATS
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return INDISTINGUISHABLE


# --- calibration ---------------------------------------------------------------------------------------


def reliability(probabilities, y_true, *, bins: int = 15) -> list[dict]:
    """The reliability diagram's bins: rows, mean confidence and accuracy in each non-empty bin."""
    probabilities, y_true = np.asarray(probabilities, dtype=np.float64), np.asarray(y_true)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [{"low": float(edges[b]), "high": float(edges[b + 1]), "rows": int((which == b).sum()),
             "confidence": float(confidence[which == b].mean()), "accuracy": float(correct[which == b].mean())}
            for b in range(bins) if (which == b).any()]


def expected_calibration_error(probabilities, y_true, *, bins: int = 15) -> float:
    """Mean |accuracy − confidence| over equal-width confidence bins, weighted by the rows in each."""
    filled = reliability(probabilities, y_true, bins=bins)
    total = sum(b["rows"] for b in filled)
    return float(sum(b["rows"] / total * abs(b["accuracy"] - b["confidence"]) for b in filled))


def brier_score(probabilities, y_true) -> float:
    """Mean squared distance between the probability vector and the one-hot truth (multi-class Brier)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    onehot = np.zeros_like(probabilities)
    onehot[np.arange(len(probabilities)), np.asarray(y_true)] = 1.0
    return float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1)))


def fit_temperature(logits, y_true) -> float:
    """The temperature T > 0 minimising the negative log-likelihood of softmax(logits / T) (fit it on the
    validation split, never on the test rows it will be judged on)."""
    logits, y_true = np.asarray(logits, dtype=np.float64), np.asarray(y_true)

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(y_true)), y_true].mean())

    found = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(found.x))


def calibrated(logits, temperature: float) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


# --- production-like data without labels ---------------------------------------------------------------


def population_stability_index(expected_counts, actual_counts, *, floor: float = 1e-4) -> float:
    """PSI between two label mixes (counts per class, same order): Σ (a − e) · ln(a / e) over shares,
    with empty shares floored. Common reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large."""
    expected = np.maximum(np.asarray(expected_counts, dtype=np.float64), 0)
    actual = np.maximum(np.asarray(actual_counts, dtype=np.float64), 0)
    if expected.sum() == 0 or actual.sum() == 0:
        raise ValueError("both mixes need at least one row")
    e = np.maximum(expected / expected.sum(), floor)
    a = np.maximum(actual / actual.sum(), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def confidence_based_estimate(probabilities) -> dict:
    """A label-free estimate from calibrated probabilities: if they are calibrated, each row's predicted
    class is right with its top probability, and the expected confusion matrix has row p(true = i) for each
    prediction. Returns the estimated accuracy and macro-F1; an estimate, never a measurement."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    k = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    expected = np.zeros((k, k))  # rows: true label (expected counts), columns: predicted
    for label in range(k):
        expected[:, label] = probabilities[predicted == label].sum(axis=0)
    return {"accuracy": float(metric_from_confusions(expected, "accuracy")),
            "macro_f1": float(metric_from_confusions(expected, "macro_f1")),
            "mean_confidence": float(probabilities.max(axis=1).mean()), "rows": int(len(probabilities))}


# --- where it fails ------------------------------------------------------------------------------------

TOO_FEW = 30  # a slice smaller than this is reported as "too few to judge"


def _class_scores(confusions: np.ndarray) -> dict[str, np.ndarray]:
    c = np.asarray(confusions, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    support, predicted = c.sum(axis=-1), c.sum(axis=-2)
    return {
        "precision": np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0),
        "recall": np.divide(tp, support, out=np.zeros_like(tp), where=support > 0),
        "f1": np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=support + predicted > 0),
    }


def per_class(y_true, reference_pred, candidate_pred, *, label_names: list[str], resamples: int = 10_000,
              seed: int = 0, level: float = 0.95, confusions: tuple[np.ndarray, np.ndarray] | None = None
              ) -> dict[str, dict]:
    """Per class: precision, recall and F1 of both models with intervals, and the candidate's change with
    its interval, all from one set of paired stratified resamples (``confusions``: the two models'
    resampled confusion matrices when the caller has drawn them already)."""
    k = len(label_names)
    y = np.asarray(y_true, dtype=np.int64)
    point = {name: _class_scores(_confusions(y, np.asarray(pred, dtype=np.int64), k, np.arange(len(y))[None, :]))
             for name, pred in (("reference", reference_pred), ("candidate", candidate_pred))}
    ref_c, cand_c = confusions or paired_confusions(y, reference_pred, candidate_pred, num_labels=k,
                                                    resamples=resamples, seed=seed)
    boot = {"reference": _class_scores(ref_c), "candidate": _class_scores(cand_c)}
    report = {}
    for i, label in enumerate(label_names):
        entry = {"support": int(np.sum(y == i))}
        for score in ("precision", "recall", "f1"):
            entry[score] = {
                model: {"value": float(point[model][score][0, i]),
                        "ci": list(_percentile_ci(boot[model][score][:, i], level))}
                for model in ("reference", "candidate")
            }
            difference = boot["candidate"][score][:, i] - boot["reference"][score][:, i]
            entry[score]["delta"] = {"value": entry[score]["candidate"]["value"] - entry[score]["reference"]["value"],
                                     "ci": list(_percentile_ci(difference, level))}
        report[label] = entry
    return report


def slice_report(slice_of, y_true, reference_pred, candidate_pred, metric: str, *, num_labels: int,
                 positive: int | None = None, resamples: int = 2_000, seed: int = 0) -> dict[str, dict]:
    """The committed metric and the difference with its interval within each slice (rows sharing a value
    of ``slice_of``); a slice under TOO_FEW rows is marked too few to judge instead."""
    slice_of = np.asarray(slice_of, dtype=object)
    y = np.asarray(y_true, dtype=np.int64)
    ref, cand = np.asarray(reference_pred, dtype=np.int64), np.asarray(candidate_pred, dtype=np.int64)
    report = {}
    for value in sorted(set(slice_of.tolist()), key=str):
        members = slice_of == value
        rows = int(members.sum())
        if rows < TOO_FEW:
            report[str(value)] = {"rows": rows, "too_few": True}
            continue
        result = paired_bootstrap(y[members], ref[members], cand[members], metric, num_labels=num_labels,
                                  positive=positive, resamples=resamples, seed=seed)
        report[str(value)] = {"rows": rows, "too_few": False, **result.as_dict()}
    return report


def length_quartiles(texts: list[str]) -> list[str]:
    """Each text's length quartile by word count, as a readable slice name ("Q1 (≤ 7 words)", …)."""
    lengths = np.array([len(t.split()) for t in texts])
    edges = np.quantile(lengths, [0.25, 0.5, 0.75])
    quartile = np.searchsorted(edges, lengths, side="left")
    bounds = [f"≤ {edges[0]:g}", f"{edges[0]:g}–{edges[1]:g}", f"{edges[1]:g}–{edges[2]:g}", f"> {edges[2]:g}"]
    return [f"Q{q + 1} ({bounds[q]} words)" for q in quartile]


def changed_rows(y_true, reference_pred, candidate_pred) -> dict[str, list[int]]:
    """Row indices the candidate broke (the reference was right, the candidate is wrong) and fixed."""
    y = np.asarray(y_true)
    ref_right, cand_right = np.asarray(reference_pred) == y, np.asarray(candidate_pred) == y
    return {"regressions": np.flatnonzero(ref_right & ~cand_right).tolist(),
            "improvements": np.flatnonzero(~ref_right & cand_right).tolist()}


def most_confident_errors(probabilities, y_true, *, top: int = 20) -> list[int]:
    """Row indices of the wrong predictions made with the highest confidence, most confident first."""
    probabilities, y = np.asarray(probabilities, dtype=np.float64), np.asarray(y_true)
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != y)
    order = np.argsort(-probabilities[wrong].max(axis=1), kind="stable")
    return wrong[order][:top].tolist()


def latency_profile(predict, texts: list[str], *, calls: int = 200, warmup: int = 10,
                    batch_size: int = 32) -> dict:
    """Latency of ``predict(list_of_texts)`` on this worker: after ``warmup`` calls, ``calls`` single-example
    calls (p50 and p95 in ms), then the throughput of batches of ``batch_size`` (texts per second)."""
    import time

    if not texts:
        raise ValueError("need texts to time")
    cycle = [texts[i % len(texts)] for i in range(max(calls, warmup, batch_size * 4))]
    for text in cycle[:warmup]:
        predict([text])
    timings = []
    for text in cycle[:calls]:
        started = time.perf_counter()
        predict([text])
        timings.append((time.perf_counter() - started) * 1000.0)
    batches = [cycle[i:i + batch_size] for i in range(0, batch_size * 4, batch_size)]
    started = time.perf_counter()
    for batch in batches:
        predict(batch)
    elapsed = time.perf_counter() - started
    p50, p95 = np.percentile(timings, [50, 95])
    return {"calls": calls, "p50_ms": float(p50), "p95_ms": float(p95),
            "throughput_per_s": float(batch_size * len(batches) / elapsed) if elapsed > 0 else None,
            "batch_size": batch_size}
