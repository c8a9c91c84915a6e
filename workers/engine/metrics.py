"""Classification metrics and target checks used by every play that reports a number.

Pure Python on purpose: the web process imports this to judge targets and must not pay for sklearn.
Semantics match scikit-learn's ``precision_recall_fscore_support`` with ``zero_division=0``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Metric name -> natural direction ("higher" is better or "lower" is better).
METRICS: dict[str, str] = {
    "accuracy": "higher",
    "macro_f1": "higher",
    "false_positive_rate": "lower",
    "p95_latency_ms": "lower",
}

# How messages and pages name each metric.
METRIC_NAMES: dict[str, str] = {"accuracy": "accuracy", "macro_f1": "macro-F1", "false_positive_rate": "false-positive rate",
                                "p95_latency_ms": "95th-percentile latency (ms)"}

DIRECTIONS = ("higher", "lower")


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], *, positive_label: str | None = None
) -> dict[str, Any]:
    """Score predictions against the truth.

    Returns floats ``accuracy`` and ``macro_f1`` (unweighted mean F1 over every label in y_true ∪ y_pred),
    ``false_positive_rate`` (FP / (FP + TN) with ``positive_label`` as the positive class; None when no
    positive_label is given or y_true has no negatives), ``per_class`` {label: {precision, recall, f1,
    support}} and ``confusion`` {"labels": sorted labels, "matrix": rows = true label, columns = predicted}.
    Raises ValueError on empty or mismatched inputs.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    if not y_true:
        raise ValueError("cannot score an empty set of predictions")

    labels = sorted(set(y_true) | set(y_pred))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for truth, pred in zip(y_true, y_pred):
        matrix[index[truth]][index[pred]] += 1

    per_class: dict[str, dict[str, float]] = {}
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted = sum(row[i] for row in matrix)
        fp, fn = predicted - tp, support - tp
        per_class[label] = {
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            # 2TP / (2TP + FP + FN) equals 2PR / (P + R) and is 0 exactly where sklearn's zero_division=0 is.
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "support": float(support),
        }

    correct = sum(matrix[i][i] for i in range(len(labels)))
    fpr: float | None = None
    if positive_label is not None:
        negatives = [pred for truth, pred in zip(y_true, y_pred) if truth != positive_label]
        if negatives:
            fpr = sum(1 for pred in negatives if pred == positive_label) / len(negatives)

    return {
        "accuracy": correct / len(y_true),
        "macro_f1": sum(c["f1"] for c in per_class.values()) / len(labels),
        "false_positive_rate": fpr,
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": matrix},
    }


def meets_target(value: float, *, target: float, direction: str) -> bool:
    """True when ``value`` reaches ``target``: ``>=`` for direction "higher", ``<=`` for "lower"."""
    if direction == "higher":
        return value >= target
    if direction == "lower":
        return value <= target
    raise ValueError(f"unknown direction {direction!r}; expected one of {DIRECTIONS}")


# -- the committed metric as a training criterion ------------------------------------------------------

# Metrics a training run can select epochs and stages by (latency is measured, not trained for).
TRAINING_METRICS = ("macro_f1", "accuracy", "false_positive_rate")


def check_training_metric(metric: str, positive_label: object | None = None) -> str:
    """The direction of ``metric`` as a selection criterion; ValueError for an unknown or unusable one.

    False-positive rate needs the positive class; latency cannot pick an epoch.
    """
    if metric not in TRAINING_METRICS:
        raise ValueError(f"metric {metric!r} cannot select a training epoch; expected one of {TRAINING_METRICS}")
    if metric == "false_positive_rate" and positive_label is None:
        raise ValueError("metric 'false_positive_rate' needs positive_label")
    return METRICS[metric]


def is_better(value: float, best: float, *, metric: str) -> bool:
    """True when ``value`` is strictly better than ``best`` in ``metric``'s direction."""
    return value < best if METRICS[metric] == "lower" else value > best


def worsening(value: float, best: float, *, metric: str) -> float:
    """How far ``value`` is behind ``best`` in ``metric``'s direction (<= 0 when not behind)."""
    return value - best if METRICS[metric] == "lower" else best - value


def metric_standard_error(value: float, n: int) -> float:
    """Binomial standard error sqrt(p(1-p)/n) of a rate ``value`` measured on ``n`` examples.

    Exact for accuracy (n = validation rows) and false-positive rate (n = validation negatives); used as
    an approximation for macro-F1, whose bootstrap SE on a few hundred rows is of the same size or larger,
    so a drop beyond it is a drop beyond noise. ``p`` is clipped to [1/n, 1-1/n] so a perfect score still
    has a margin of about one example. 0.0 when ``n`` < 1.
    """
    if n < 1:
        return 0.0
    p = min(max(float(value), 1.0 / n), 1.0 - 1.0 / n) if n > 1 else 0.5
    return (p * (1.0 - p) / n) ** 0.5
