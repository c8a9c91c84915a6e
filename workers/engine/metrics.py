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
