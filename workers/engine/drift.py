"""Play 6's monitoring statistics: is a window of production predictions still like what was approved?

A *window* is a batch of production predictions: texts, predicted probabilities (n, k), optionally the
encoder's embeddings (n, d) and, for some rows, late-arriving true labels (integers 0..k-1; -1 or None
where a row has none yet). The *reference* is what the model was approved on: the texts, probabilities and
embeddings of held-out rows (the sealed test split and/or Play 3's production sample), never training rows,
whose probabilities are overconfident and would make every window look drifted.

Signals, each with an effect size and, where one exists, a significance:

- ``domain_classifier_drift`` (signal ``text``): can TF-IDF + logistic regression tell window texts from
  reference texts? Cross-fitted ROC AUC, a permutation p-value, and an explanation (the words that separate
  the two sides and the window texts that look least like the reference);
- ``mmd_drift`` (signal ``embedding``): maximum mean discrepancy of the embeddings, RBF kernel with the
  median-heuristic bandwidth, permutation p-value;
- ``output_drift`` (signals ``prediction_mix`` and ``confidence``): PSI of the predicted-label mix and the
  change in mean confidence;
- ``performance`` (signal ``performance``): the committed metric on the labelled rows with a bootstrap
  interval, and the label-free confidence-based estimate while labels are missing (always marked
  ``"estimate": True``).

``windows`` cuts a timestamped stream into windows; ``AlertPolicy`` and ``evaluate_policy`` turn per-window
values into alerts (persistence, cooldown) and the retrain trigger; ``drift_check`` runs everything on one
window and returns a JSON-ready dict. Plain numpy / scipy / scikit-learn: no Django, no torch.

Why not a drift library: Alibi Detect (0.13) pins numpy < 2 and transformers < 5 (we run numpy 2 and
transformers 5) and is under the Business Source License; Evidently (0.7) fits the pins but brings a web
service stack (litestar, uvicorn, plotly, statsmodels, nltk, a usage-telemetry client) into the worker for
tests that scikit-learn and scipy already provide the parts of. What is hand-written here is only the glue:
the unbiased MMD² over a precomputed kernel, the permutation loops and the alerting rules.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from scipy.special import expit
from scipy.stats import ks_2samp, rankdata
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import StratifiedKFold

from workers.engine.evaluation import (
    QUALITY_METRICS,
    calibrated,
    metric_from_confusions,
    metric_value,
    paired_bootstrap,
    population_stability_index,
)

TEXT = "text"
EMBEDDING = "embedding"
PREDICTION_MIX = "prediction_mix"
CONFIDENCE = "confidence"
PERFORMANCE = "performance"
DRIFT_SIGNALS = (TEXT, EMBEDDING, PREDICTION_MIX, CONFIDENCE)
SIGNALS = (*DRIFT_SIGNALS, PERFORMANCE)

# PSI bands (the common reading, as in evaluation.population_stability_index).
PSI_STABLE = 0.1
PSI_LARGE = 0.25

# Who hears about a fired alert: drift alone tells the data owner; a performance breach is the model's.
AUDIENCE = {TEXT: "data_owner", EMBEDDING: "data_owner", PREDICTION_MIX: "data_owner",
            CONFIDENCE: "data_owner", PERFORMANCE: "model_owner"}


def _float(x: Any) -> float | None:
    """A JSON-safe float: NaN (e.g. a false-positive rate with no negatives) becomes None."""
    x = float(x)
    return None if math.isnan(x) else x


def _p_value(null: np.ndarray, observed: float) -> float:
    """Permutation p-value counting the observed arrangement as one of the permutations, so it is never 0
    and the test keeps its level exactly: (1 + #{null >= observed}) / (1 + permutations)."""
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + len(null)))


def _cap(rows: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """Row indices to use: all of them, or a seeded sample of ``limit`` rows (kept in order)."""
    if limit is None or rows <= limit:
        return np.arange(rows)
    return np.sort(rng.choice(rows, size=limit, replace=False))


# --- text: a domain classifier ---------------------------------------------------------------------------


def _domain_classifier() -> LogisticRegression:
    # liblinear fits a 1,000-row sparse problem in a few milliseconds, which is what makes refitting for
    # every permutation affordable; balanced weights because windows are usually smaller than the reference.
    return LogisticRegression(solver="liblinear", C=1.0, class_weight="balanced", random_state=0)


def _auc(scores: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC (y = 1 positive) by the Mann–Whitney identity AUC = U / (n₁n₀), ties counting one half;
    equal to sklearn.metrics.roc_auc_score, without its input checks, which cost more than the fits here."""
    positives = y == 1
    n1 = int(positives.sum())
    n0 = len(y) - n1
    return float((rankdata(scores)[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _cross_fitted_auc(x, y: np.ndarray, folds: int, seed: int) -> tuple[float, np.ndarray]:
    """Mean held-out ROC AUC over stratified folds (window = positive) and every row's out-of-fold margin
    (log-odds of being a window row). The folds are a fixed function of (y, seed)."""
    margins = np.empty(len(y))
    aucs = []
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(margins, y):
        model = _domain_classifier().fit(x[train], y[train])
        margins[test] = x[test] @ model.coef_[0] + model.intercept_[0]
        aucs.append(_auc(margins[test], y[test]))
    return float(np.mean(aucs)), margins


def domain_classifier_drift(reference_texts: Sequence[str], window_texts: Sequence[str], *,
                            permutations: int = 200, seed: int = 0, folds: int = 2, top_terms: int = 10,
                            examples: int = 5, max_rows: int | None = 2_000) -> dict:
    """Can a classifier tell window texts from reference texts, and by what?

    TF-IDF (words and word pairs, sublinear term frequency, terms in at least two texts) is fitted once on
    both sides together, then an L2 logistic regression is cross-fitted over ``folds`` stratified folds;
    the statistic is the mean held-out ROC AUC (0.5: indistinguishable, 1: separable).

    Significance: a permutation test that refits the classifier on every permutation of the
    window/reference labels (``permutations`` times, folds re-drawn by the same rule). That is the exact
    null of the whole procedure; it is affordable because the vectoriser does not see the labels (so it is
    fitted once, and fitting it on both sides is no leak under the null) and because two folds mean two
    cheap liblinear fits per permutation. Two folds rather than five: each row is still scored once, by a
    model that never saw it, and the permutation test is exact for any number of folds, so fewer folds only
    costs some power, which a drift big enough to matter does not need. p = (1 + #{null AUC >= AUC}) /
    (1 + permutations); ``null_p95`` is the AUC a classifier reaches by chance 5% of the time at these sizes.

    Explanation: the terms with the largest weights of a classifier fitted on all rows, each side's share
    of texts containing them (a term is listed for a side only when it is more common there), and the window
    texts with the highest out-of-fold window probability (the most window-like, by a model that did not
    see them; "probability" with both sides weighted equally). ``max_rows`` caps each side by a seeded sample; indices refer to the rows given.

    The null assumes rows are independent draws. Texts that avoid repeating one another within a side
    (the demo generator deals its templates like cards) push the held-out AUC below 0.5 and p towards 1:
    that makes the test conservative (fewer alarms), not liberal.
    """
    rng = np.random.default_rng(seed)
    ref_rows = _cap(len(reference_texts), max_rows, rng)
    win_rows = _cap(len(window_texts), max_rows, rng)
    m, n = len(ref_rows), len(win_rows)
    if min(m, n) < max(folds, 5):
        raise ValueError(f"need at least {max(folds, 5)} texts on each side, got {m} reference and {n} "
                         "window")
    texts = [str(reference_texts[i]) for i in ref_rows] + [str(window_texts[i]) for i in win_rows]
    y = np.r_[np.zeros(m, dtype=np.int64), np.ones(n, dtype=np.int64)]
    try:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50_000)
        x = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # fewer than two texts share any term: keep every term
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, max_features=50_000)
        x = vectorizer.fit_transform(texts).tocsr()

    auc, scores = _cross_fitted_auc(x, y, folds, seed)
    null = np.array([_cross_fitted_auc(x, rng.permutation(y), folds, seed)[0] for _ in range(permutations)])

    full = _domain_classifier().fit(x, y)
    weights = full.coef_[0]
    window_share = x[m:].getnnz(axis=0) / n  # TF-IDF weights are positive: stored entries = texts with it
    reference_share = x[:m].getnnz(axis=0) / m
    names = vectorizer.get_feature_names_out()

    def terms(order: np.ndarray, more_in_window: bool) -> list[dict]:
        chosen = []
        for j in order:
            if (weights[j] > 0) != more_in_window:
                break
            if (window_share[j] > reference_share[j]) == more_in_window:
                chosen.append({"term": str(names[j]), "weight": float(weights[j]),
                               "window_share": float(window_share[j]),
                               "reference_share": float(reference_share[j])})
            if len(chosen) == top_terms:
                break
        return chosen

    by_weight = np.argsort(-weights, kind="stable")
    window_scores = expit(scores[m:])
    most_window_like = np.argsort(-window_scores, kind="stable")[:examples]
    return {
        "auc": auc,
        "p_value": _p_value(null, auc) if permutations else None,
        "null_p95": float(np.percentile(null, 95)) if permutations else None,
        "null_mean": float(null.mean()) if permutations else None,
        "permutations": permutations,
        "folds": folds,
        "rows": {"reference": m, "window": n},
        "terms": x.shape[1],
        "explanation": {
            "more_in_window": terms(by_weight, True),
            "more_in_reference": terms(by_weight[::-1], False),
            "most_window_like": [{"index": int(win_rows[i]), "text": texts[m + i],
                                  "window_probability": float(window_scores[i])} for i in most_window_like],
        },
    }


# --- embeddings: maximum mean discrepancy ----------------------------------------------------------------


def _as_matrix(values: Any, name: str) -> np.ndarray:
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (rows, dims) array, got shape {matrix.shape}")
    return matrix


def _mmd2_unbiased(kernel: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for each column of ``window`` (N, B): a 0/1 indicator of the window rows among the N
    pooled rows. With K's diagonal all ones (RBF):
    MMD² = Σ_{i≠j∈R} K/(m(m−1)) + Σ_{i≠j∈W} K/(n(n−1)) − 2 Σ_{i∈R, j∈W} K/(mn).
    One matrix product serves every permutation."""
    n = window[:, 0].sum()
    m = len(window) - n
    row_sums = kernel.sum(axis=1)
    total = row_sums.sum()
    kw = kernel @ window
    ww = np.einsum("ib,ib->b", window, kw)  # Σ over window × window (diagonal included)
    all_w = row_sums @ window  # Σ over everything × window
    rw = all_w - ww
    rr = total - 2 * all_w + ww
    return (rr - m) / (m * (m - 1)) + (ww - n) / (n * (n - 1)) - 2 * rw / (m * n)


def mmd_drift(reference_emb, window_emb, *, permutations: int = 200, seed: int = 0,
              max_rows: int | None = 2_000, examples: int = 5) -> dict:
    """Maximum mean discrepancy between the reference's and the window's embeddings.

    RBF kernel exp(−‖x − y‖² / (2σ²)) with σ the median distance between pooled rows (the median heuristic;
    label-free, so the permutation null is exact). The effect size is the unbiased MMD² (about 0 for the
    same distribution, up to 2); p is a permutation p-value from ``permutations`` seeded reassignments of
    the window/reference labels, all evaluated with one matrix product. ``most_unlike_reference``: window
    rows where the witness function (mean kernel to the window minus mean kernel to the reference) peaks,
    i.e. where the window has mass the reference lacks. ``max_rows`` caps each side by a seeded sample (the
    kernel matrix grows with the square of the rows).
    """
    reference = _as_matrix(reference_emb, "reference_emb")
    window = _as_matrix(window_emb, "window_emb")
    if reference.shape[1] != window.shape[1]:
        raise ValueError(f"dimension mismatch: reference has {reference.shape[1]}, "
                         f"window has {window.shape[1]}")
    rng = np.random.default_rng(seed)
    ref_rows, win_rows = _cap(len(reference), max_rows, rng), _cap(len(window), max_rows, rng)
    m, n = len(ref_rows), len(win_rows)
    if min(m, n) < 2:
        raise ValueError("mmd_drift needs at least 2 rows on each side")
    pooled = np.vstack([reference[ref_rows], window[win_rows]])
    squared = euclidean_distances(pooled, squared=True)
    np.maximum(squared, 0, out=squared)
    upper = np.triu_indices(len(pooled), k=1)
    bandwidth = float(np.sqrt(np.median(squared[upper])))
    if bandwidth == 0:  # more than half the pairs coincide: fall back to the mean distance
        bandwidth = float(np.sqrt(squared[upper]).mean()) or 1.0
    kernel = np.exp(-squared / (2 * bandwidth**2))
    del squared

    observed = np.r_[np.zeros(m), np.ones(n)]
    mmd2 = float(_mmd2_unbiased(kernel, observed[:, None])[0])
    null = np.empty(0)
    if permutations:
        shuffled = rng.permuted(np.tile(observed, (permutations, 1)), axis=1).T
        null = _mmd2_unbiased(kernel, shuffled)
    witness = kernel[m:, m:].mean(axis=1) - kernel[m:, :m].mean(axis=1)
    top = np.argsort(-witness, kind="stable")[:examples]
    return {
        "mmd2": mmd2,
        "mmd": math.sqrt(max(mmd2, 0.0)),
        "p_value": _p_value(null, mmd2) if permutations else None,
        "null_p95": float(np.percentile(null, 95)) if permutations else None,
        "permutations": permutations,
        "bandwidth": bandwidth,
        "rows": {"reference": m, "window": n},
        "most_unlike_reference": [{"index": int(win_rows[i]), "witness": float(witness[i])} for i in top],
    }


# --- the model's outputs ----------------------------------------------------------------------------------


def psi_band(psi: float) -> str:
    return "stable" if psi < PSI_STABLE else ("moderate" if psi <= PSI_LARGE else "large")


def output_drift(reference_probs, window_probs, *, label_names: Sequence[str] | None = None) -> dict:
    """How the model's outputs moved: the PSI of the predicted-label mix (counts of argmax per class,
    evaluation.population_stability_index) with its band (< 0.1 stable, 0.1–0.25 moderate, > 0.25 large),
    each label's share on both sides, and the change in mean confidence (top probability; window minus
    reference, negative when the model is less sure) with a two-sample Kolmogorov–Smirnov test of the
    confidences. Sampling noise alone gives PSI of about (k − 1)(1/m + 1/n) on average."""
    reference = _as_matrix(reference_probs, "reference_probs")
    window = _as_matrix(window_probs, "window_probs")
    k = reference.shape[1]
    if window.shape[1] != k:
        raise ValueError(f"the reference has {k} classes, the window {window.shape[1]}")
    names = list(label_names) if label_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} label names for {k} classes")
    ref_counts = np.bincount(reference.argmax(axis=1), minlength=k)
    win_counts = np.bincount(window.argmax(axis=1), minlength=k)
    psi = population_stability_index(ref_counts, win_counts)
    ref_conf, win_conf = reference.max(axis=1), window.max(axis=1)
    ks = ks_2samp(ref_conf, win_conf)
    return {
        "psi": psi,
        "band": psi_band(psi),
        "labels": [{"label": names[i], "reference_share": float(ref_counts[i] / ref_counts.sum()),
                    "window_share": float(win_counts[i] / win_counts.sum())} for i in range(k)],
        "mean_confidence": {"reference": float(ref_conf.mean()), "window": float(win_conf.mean()),
                            "change": float(win_conf.mean() - ref_conf.mean())},
        "confidence_ks": {"statistic": float(ks.statistic), "p_value": float(ks.pvalue)},
        "rows": {"reference": len(reference), "window": len(window)},
    }


def _labels_mask(labels, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(labelled row mask, labels as int64 with -1 where missing) from a sequence using None/-1/NaN."""
    if labels is None:
        return np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64)
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} rows")
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in labels]
    coded = np.array([-1 if gone else int(v) for v, gone in zip(labels, missing)], dtype=np.int64)
    return coded >= 0, coded


def performance(window_probs, labels_or_none, *, metric: str, num_labels: int, positive: int | None = None,
                temperature: float = 1.0, min_labelled: int = 50, resamples: int = 2_000, seed: int = 0,
                level: float = 0.95) -> dict:
    """The committed metric on this window.

    ``realised``: measured on the rows whose true label has arrived, with a percentile bootstrap interval
    (stratified by true class, evaluation.paired_bootstrap), once at least ``min_labelled`` rows are
    labelled; otherwise None. ``estimated``: the confidence-based estimate over all rows from probabilities
    recalibrated with ``temperature`` (the one Play 5 fitted on validation; softmax(log p / T) equals
    softmax(logits / T)): the expected confusion matrix takes each row's probability vector as its
    distribution of true labels. It is an estimate, never a measurement, and is marked ``"estimate": True``;
    it is trustworthy only while calibration holds, which drift can break, hence ``estimated_on_labelled``
    (the estimate on the labelled rows, next to the realised value, shows the gap). The headline
    (``value``, ``ci``, ``estimate``) is the realised value when there is one, else the estimate.
    """
    if metric not in QUALITY_METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(QUALITY_METRICS)}")
    probs = _as_matrix(window_probs, "window_probs")
    if probs.shape[1] != num_labels:
        raise ValueError(f"probabilities have {probs.shape[1]} columns for {num_labels} labels")
    if temperature != 1.0:
        probs = calibrated(np.log(np.clip(probs, 1e-12, None)), temperature)
    predicted = probs.argmax(axis=1)
    labelled, y = _labels_mask(labels_or_none, len(probs))
    if (y >= num_labels).any():
        raise ValueError(f"labels must lie in 0..{num_labels - 1}")

    def estimate(rows: np.ndarray) -> float | None:
        onehot = np.eye(num_labels)[predicted[rows]]
        expected = probs[rows].T @ onehot  # rows: true label (expected counts), columns: predicted
        return _float(metric_from_confusions(expected, metric, positive))

    everything = np.ones(len(probs), dtype=bool)
    estimated = {"value": estimate(everything), "estimate": True, "rows": int(len(probs)),
                 "mean_confidence": float(probs.max(axis=1).mean()), "temperature": float(temperature)}
    count = int(labelled.sum())
    realised = None
    if count >= min_labelled:
        truth, guess = y[labelled], predicted[labelled]
        boot = paired_bootstrap(truth, guess, guess, metric, num_labels=num_labels, positive=positive,
                                resamples=resamples, seed=seed, level=level)  # both sides the same model
        value = metric_value(truth, guess, metric, num_labels=num_labels, positive=positive)
        realised = {"value": _float(value),
                    "ci": [_float(boot.reference_ci[0]), _float(boot.reference_ci[1])], "rows": count,
                    "estimate": False, "resamples": resamples, "level": level,
                    # The fewest labelled rows of any class present: the bootstrap keeps each class's count
                    # fixed, so a class of two rows moves a macro metric without widening its interval.
                    "smallest_class": int(np.bincount(truth, minlength=num_labels)[np.unique(truth)].min())}
    headline = realised or estimated
    return {
        "metric": metric,
        "direction": QUALITY_METRICS[metric],
        "rows": int(len(probs)),
        "labelled": count,
        "min_labelled": min_labelled,
        "realised": realised,
        "estimated": estimated,
        "estimated_on_labelled": estimate(labelled) if realised else None,
        "value": headline["value"],
        "ci": headline.get("ci"),
        "estimate": realised is None,
    }


# --- windows ----------------------------------------------------------------------------------------------


def _seconds(moment: Any) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def windows(rows_with_timestamps: Iterable[Mapping], *, size: int, max_age_seconds: float, min_size: int,
            time_key: str = "time", now: Any = None) -> list[dict]:
    """Cut a stream of rows (mappings with a timestamp under ``time_key``: seconds or datetimes) into
    monitoring windows, in time order. A window opens at its first row and closes by **count** when it
    holds ``size`` rows, or by **time** when a row arrives ``max_age_seconds`` or more after it opened
    (that row opens the next window), whichever comes first. The last window closes by time if ``now`` is
    given and late enough; otherwise it is still open. Only closed windows of at least ``min_size`` rows
    are judged; a smaller one is reported with ``judged: False`` (too few rows to tell drift from noise).

    Each window: {"index", "start", "end" (last row's time), "closes_at" (start + max age), "size",
    "closed_by": "count" | "time" | None (open), "judged", "rows"}.
    """
    if size < 1 or min_size < 1 or max_age_seconds <= 0:
        raise ValueError("size and min_size must be positive and max_age_seconds above 0")
    ordered = sorted(rows_with_timestamps, key=lambda row: _seconds(row[time_key]))
    found: list[dict] = []
    current: list[Mapping] = []

    def close(closed_by: str | None) -> None:
        start = _seconds(current[0][time_key])
        found.append({"index": len(found), "start": start, "end": _seconds(current[-1][time_key]),
                      "closes_at": start + max_age_seconds, "size": len(current), "closed_by": closed_by,
                      "judged": closed_by is not None and len(current) >= min_size, "rows": current})

    for row in ordered:
        if current and _seconds(row[time_key]) - _seconds(current[0][time_key]) >= max_age_seconds:
            close("time")
            current = []
        current.append(row)
        if len(current) == size:
            close("count")
            current = []
    if current:
        late = now is not None and _seconds(now) - _seconds(current[0][time_key]) >= max_age_seconds
        close("time" if late else None)
    return found


# --- alerting ---------------------------------------------------------------------------------------------

# Thresholds on each drift signal's effect size; a signal with a p-value must also have p < alpha.
DEFAULT_THRESHOLDS = {
    # Cross-fitted AUC. If a share s of the window is recognisably new and the rest looks like the
    # reference, the AUC is about 0.5 + s/2: 0.6 means roughly a fifth of the window is unlike the reference.
    TEXT: 0.60,
    # Unbiased MMD², RBF with median bandwidth. Its scale depends on the encoder (in many dimensions
    # distances concentrate and even a large shift gives a small MMD²), so the default is a floor just
    # above the permutation noise of a 200-row window, and the p-value does the real work; raise it per
    # project once the encoder's figures on a few known-good windows are in.
    EMBEDDING: 0.001,
    PREDICTION_MIX: PSI_STABLE,  # PSI of the predicted-label mix: "moderate" or worse
    CONFIDENCE: 0.05,  # drop in mean top probability (reference minus window)
}


@dataclass(frozen=True)
class AlertPolicy:
    """When breaches become alerts and when an alert opens a retrain cycle.

    - ``thresholds``: per drift signal, the effect size at which it is breached (merged over
      DEFAULT_THRESHOLDS); signals with a p-value must also have p < ``alpha``.
    - ``performance_floor``: the committed metric's floor (a ceiling for a lower-is-better metric such as the
      false-positive rate); None: the performance signal is not judged. A *realised* value breaches when its
      whole interval is past the floor, an *estimated* value when its point is.
    - ``min_window``: windows with fewer rows are not judged.
    - ``persistence`` of the last ``lookback`` judged windows (this one included, and breached) must breach
      before an alert fires; a realised performance breach fires at once when it is measured on at least
      ``solid_labels`` labelled rows with at least ``solid_class_rows`` of every class present, and otherwise
      needs the same persistence (on man-page text, a window of 58 labels with two classes of two rows set
      off a retrain the data did not support; bench/RESULTS.md, "Play 6 monitor on real text").
    - ``cooldown_windows`` / ``cooldown_seconds``: after a signal fires, it stays quiet for that many judged
      windows and that long (both must pass); the retrain trigger cools down the same way.
    """
    thresholds: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.01
    performance_floor: float | None = None
    min_window: int = 200
    persistence: int = 2
    lookback: int = 3
    cooldown_windows: int = 6
    cooldown_seconds: float = 0.0
    solid_labels: int = 100
    solid_class_rows: int = 5

    def __post_init__(self) -> None:
        unknown = set(self.thresholds) - set(DRIFT_SIGNALS)
        if unknown:
            raise ValueError(f"no such drift signal: {sorted(unknown)}; expected {list(DRIFT_SIGNALS)}")
        if not 1 <= self.persistence <= self.lookback:
            raise ValueError("persistence must be between 1 and lookback")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.min_window < 1 or min(self.cooldown_windows, self.cooldown_seconds) < 0:
            raise ValueError("min_window must be at least 1 and the cooldowns at least 0")
        object.__setattr__(self, "thresholds", {**DEFAULT_THRESHOLDS, **dict(self.thresholds)})

    def as_dict(self) -> dict:
        return asdict(self) | {"thresholds": dict(self.thresholds)}

    @classmethod
    def from_dict(cls, data: Mapping) -> AlertPolicy:
        return cls(**dict(data))


def breaches(values: Mapping[str, Mapping | None], policy: AlertPolicy) -> dict[str, bool]:
    """Which signals of one window breach the policy. ``values`` maps a signal to its record:
    drift signals {"effect", "p_value" (optional)}; performance {"value", "ci", "estimate", "direction"}.
    A signal that was not measured (absent or None) is left out."""
    found: dict[str, bool] = {}
    for signal in DRIFT_SIGNALS:
        record = values.get(signal)
        if record is None or record.get("effect") is None:
            continue
        p = record.get("p_value")
        significant = p is None or p < policy.alpha
        found[signal] = bool(record["effect"] >= policy.thresholds[signal] and significant)
    record = values.get(PERFORMANCE)
    if policy.performance_floor is not None and record is not None and record.get("value") is not None:
        higher = record["direction"] == "higher"
        if record["estimate"] or not record.get("ci"):
            point = record["value"]
        else:  # realised: the interval's end nearest the floor must be past it too
            point = record["ci"][1] if higher else record["ci"][0]
        if point is not None:
            floor = policy.performance_floor
            found[PERFORMANCE] = bool(point < floor if higher else point > floor)
    return found


def _solid(record: Mapping, policy: AlertPolicy) -> bool:
    """A realised measurement firm enough to act on at once (see AlertPolicy). Records written before the
    label counts were kept carry none and count as firm, as they were judged then."""
    if record["estimate"]:
        return False
    labelled, smallest = record.get("labelled"), record.get("smallest_class")
    if labelled is None and smallest is None:
        return True
    return (labelled or 0) >= policy.solid_labels and (smallest or 0) >= policy.solid_class_rows


def _reason(signal: str, record: Mapping, policy: AlertPolicy) -> str:
    if signal == PERFORMANCE:
        kind = "estimated" if record["estimate"] else "realised"
        ci = "" if record["estimate"] else f" (interval {record['ci'][0]:.3f}–{record['ci'][1]:.3f})"
        side = "below the floor" if record["direction"] == "higher" else "above the ceiling"
        metric = record.get("metric", "metric")
        return f"{kind} {metric} {record['value']:.3f}{ci} {side} {policy.performance_floor}"
    p = record.get("p_value")
    significance = "" if p is None else f", p = {p:.3f}"
    what = {TEXT: "domain-classifier AUC", EMBEDDING: "embedding MMD²", PREDICTION_MIX: "predicted-label PSI",
            CONFIDENCE: "mean-confidence drop"}[signal]
    return f"{what} {record['effect']:.3f} ≥ {policy.thresholds[signal]}{significance}"


def evaluate_policy(history: Sequence[Mapping], policy: AlertPolicy) -> list[dict]:
    """Per window of ``history`` (oldest first; each {"rows", "time" (seconds or None), "values": {signal:
    record}}, as ``drift_check`` returns under "summary"), what the policy decides:

    {"index", "time", "rows", "judged", "breached": [signals], "alerts": [{"signal", "audience", "reason"}],
    "suppressed": [signals that would have fired but are cooling down], "retrain": bool, "retrain_reason"}.

    A drift alert fires when its signal breached in this window and in at least ``persistence`` of the last
    ``lookback`` judged windows; it goes to the data owner and never triggers a retrain by itself. The
    performance signal fires at once on a realised breach and with the same persistence on an estimated one;
    when it fires, the retrain trigger fires (and the model owner is told). Windows under ``min_window`` rows
    are not judged and do not count towards persistence or cooldown.
    """
    decisions: list[dict] = []
    judged: list[dict[str, bool]] = []
    fired_at: dict[str, tuple[int, float | None]] = {}

    def cooling(signal: str, position: int, moment: float | None) -> bool:
        if signal not in fired_at:
            return False
        last_position, last_moment = fired_at[signal]
        if position - last_position <= policy.cooldown_windows:
            return True
        return bool(policy.cooldown_seconds and moment is not None and last_moment is not None
                    and moment - last_moment < policy.cooldown_seconds)

    for index, entry in enumerate(history):
        moment = None if entry.get("time") is None else _seconds(entry["time"])
        decision = {"index": index, "time": moment, "rows": int(entry["rows"]), "judged": False,
                    "breached": [], "alerts": [], "suppressed": [], "retrain": False, "retrain_reason": None}
        decisions.append(decision)
        if entry["rows"] < policy.min_window:
            continue
        decision["judged"] = True
        values = entry["values"]
        hits = breaches(values, policy)
        judged.append(hits)
        position = len(judged) - 1
        recent = judged[-policy.lookback:]
        decision["breached"] = [s for s in SIGNALS if hits.get(s)]
        for signal in decision["breached"]:
            immediate = signal == PERFORMANCE and _solid(values[PERFORMANCE], policy)
            if not immediate and sum(bool(r.get(signal)) for r in recent) < policy.persistence:
                continue
            if cooling(signal, position, moment):
                decision["suppressed"].append(signal)
                continue
            fired_at[signal] = (position, moment)
            reason = _reason(signal, values[signal], policy)
            decision["alerts"].append({"signal": signal, "audience": AUDIENCE[signal], "reason": reason})
            if signal == PERFORMANCE:
                decision["retrain"], decision["retrain_reason"] = True, reason
    return decisions


# --- one window, every signal -----------------------------------------------------------------------------


def drift_check(reference: Mapping, window: Mapping, *, policy: AlertPolicy | None = None, metric: str,
                positive: int | None = None, temperature: float = 1.0,
                label_names: Sequence[str] | None = None, permutations: int = 200, seed: int = 0,
                min_labelled: int = 50, history: Sequence[Mapping] = ()) -> dict:
    """Every signal for one window against the reference, and what the policy decides.

    ``reference``: {"texts", "probs" (m, k), "embeddings" (m, d), optional}. ``window``: {"texts", "probs"
    (n, k), "embeddings" (optional), "labels" (optional; -1/None where not yet known), "time" (optional,
    seconds or datetime)}. ``history``: the "summary" of earlier windows, oldest first, for persistence and
    cooldown. Returns (JSON-ready):

    {"judged", "rows": {"reference", "window", "labelled"},
     "signals": {"text": {domain_classifier_drift… , "threshold", "breached"} | None,
                 "embedding": {mmd_drift… , "threshold", "breached"} | None,
                 "prediction_mix": {"psi", "band", "labels", "threshold", "breached"},
                 "confidence": {"mean_confidence", "confidence_ks", "drop", "threshold", "breached"},
                 "performance": {performance… , "floor", "breached"}},
     "breached": [signals], "summary": {"rows", "time", "values"}, "decision": evaluate_policy's entry for
     this window, "policy", "metric", "permutations", "seed", "seconds": {part: wall seconds}}.

    A window under ``policy.min_window`` rows is not judged: nothing is computed and ``signals`` is None.
    """
    policy = policy or AlertPolicy()
    started = time.perf_counter()
    ref_probs = _as_matrix(reference["probs"], "reference probs")
    win_probs = _as_matrix(window["probs"], "window probs")
    n, k = win_probs.shape
    labelled, _ = _labels_mask(window.get("labels"), n)
    moment = None if window.get("time") is None else _seconds(window["time"])
    base = {"rows": {"reference": len(ref_probs), "window": n, "labelled": int(labelled.sum())},
            "policy": policy.as_dict(), "metric": metric, "permutations": permutations, "seed": seed}
    if n < policy.min_window:
        summary = {"rows": n, "time": moment, "values": {}}
        decision = evaluate_policy([*history, summary], policy)[-1]
        return {"judged": False, **base, "signals": None, "breached": [], "summary": summary,
                "decision": decision, "seconds": {"total": time.perf_counter() - started}}

    seconds: dict[str, float] = {}
    signals: dict[str, Any] = {}
    values: dict[str, Any] = {}

    clock = time.perf_counter()
    if reference.get("texts") is not None and window.get("texts") is not None:
        text = domain_classifier_drift(reference["texts"], window["texts"], permutations=permutations,
                                       seed=seed)
        signals[TEXT] = text
        values[TEXT] = {"effect": text["auc"], "p_value": text["p_value"]}
    else:
        signals[TEXT] = None
    seconds[TEXT] = time.perf_counter() - clock

    clock = time.perf_counter()
    if reference.get("embeddings") is not None and window.get("embeddings") is not None:
        embedding = mmd_drift(reference["embeddings"], window["embeddings"], permutations=permutations,
                              seed=seed)
        signals[EMBEDDING] = embedding
        values[EMBEDDING] = {"effect": embedding["mmd2"], "p_value": embedding["p_value"]}
    else:
        signals[EMBEDDING] = None
    seconds[EMBEDDING] = time.perf_counter() - clock

    clock = time.perf_counter()
    output = output_drift(ref_probs, win_probs, label_names=label_names)
    signals[PREDICTION_MIX] = {"psi": output["psi"], "band": output["band"], "labels": output["labels"]}
    values[PREDICTION_MIX] = {"effect": output["psi"]}
    drop = -output["mean_confidence"]["change"]
    signals[CONFIDENCE] = {"mean_confidence": output["mean_confidence"],
                           "confidence_ks": output["confidence_ks"], "drop": drop}
    values[CONFIDENCE] = {"effect": drop, "p_value": output["confidence_ks"]["p_value"]}
    seconds["output"] = time.perf_counter() - clock

    clock = time.perf_counter()
    perf = performance(win_probs, window.get("labels"), metric=metric, num_labels=k, positive=positive,
                       temperature=temperature, min_labelled=min_labelled, seed=seed)
    signals[PERFORMANCE] = perf
    values[PERFORMANCE] = {"metric": metric, "direction": perf["direction"], "value": perf["value"],
                           "ci": perf["ci"], "estimate": perf["estimate"], "labelled": perf["labelled"],
                           "smallest_class": (perf["realised"] or {}).get("smallest_class")}
    seconds[PERFORMANCE] = time.perf_counter() - clock

    hits = breaches(values, policy)
    for signal in DRIFT_SIGNALS:
        if signals[signal] is not None:
            signals[signal]["threshold"] = policy.thresholds[signal]
            signals[signal]["breached"] = hits.get(signal, False)
    signals[PERFORMANCE]["floor"] = policy.performance_floor
    signals[PERFORMANCE]["breached"] = hits.get(PERFORMANCE, False)

    summary = {"rows": n, "time": moment, "values": values}
    decision = evaluate_policy([*history, summary], policy)[-1]
    seconds["total"] = time.perf_counter() - started
    return {"judged": True, **base, "signals": signals, "breached": [s for s in SIGNALS if hits.get(s)],
            "summary": summary, "decision": decision, "seconds": seconds}
