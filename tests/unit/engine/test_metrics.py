"""Metrics: hand-computed values on tiny examples, and target checks."""
import random

import pytest
from sklearn.metrics import accuracy_score, f1_score

from workers.engine.metrics import METRICS, classification_metrics, meets_target


def test_metric_directions():
    assert METRICS == {
        "accuracy": "higher",
        "macro_f1": "higher",
        "false_positive_rate": "lower",
        "p95_latency_ms": "lower",
    }


def test_hand_computed_binary_example():
    # truth: spam spam spam ham ham ham ham; predictions make TP=2, FN=1, FP=1, TN=3.
    y_true = ["spam", "spam", "spam", "ham", "ham", "ham", "ham"]
    y_pred = ["spam", "spam", "ham", "spam", "ham", "ham", "ham"]
    m = classification_metrics(y_true, y_pred, positive_label="spam")

    assert m["accuracy"] == pytest.approx(5 / 7)
    # spam: P=2/3 R=2/3 F1=2/3; ham: P=3/4 R=3/4 F1=3/4.
    assert m["per_class"]["spam"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["ham"]["precision"] == pytest.approx(3 / 4)
    assert m["per_class"]["ham"]["support"] == 4
    assert m["macro_f1"] == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert m["false_positive_rate"] == pytest.approx(1 / 4)
    assert m["confusion"] == {"labels": ["ham", "spam"], "matrix": [[3, 1], [1, 2]]}


def test_macro_f1_counts_labels_only_predicted_and_zero_division():
    # "c" never occurs in y_true but is predicted: it enters the macro average with F1 = 0.
    y_true = ["a", "a", "b", "b"]
    y_pred = ["a", "c", "b", "b"]
    m = classification_metrics(y_true, y_pred)
    # a: P=1 R=1/2 F1=2/3; b: F1=1; c: P=0 R=0 F1=0.
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0.0}
    assert m["false_positive_rate"] is None  # no positive_label given


def test_false_positive_rate_multiclass_and_no_negatives():
    y_true = ["fraud", "ok", "other", "ok", "other"]
    y_pred = ["ok", "fraud", "fraud", "ok", "other"]
    # negatives are the 4 non-fraud rows; 2 of them were predicted fraud.
    assert classification_metrics(y_true, y_pred, positive_label="fraud")["false_positive_rate"] == 0.5
    assert classification_metrics(["x", "x"], ["x", "y"], positive_label="x")["false_positive_rate"] is None


def test_agrees_with_sklearn_on_random_labels():
    rng = random.Random(3)
    labels = ["a", "b", "c", "d"]
    y_true = [rng.choice(labels[:3]) for _ in range(200)]
    y_pred = [rng.choice(labels) for _ in range(200)]
    m = classification_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_rejects_bad_inputs():
    with pytest.raises(ValueError):
        classification_metrics(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        classification_metrics([], [])


def test_meets_target_both_directions():
    assert meets_target(0.9, target=0.9, direction="higher")
    assert not meets_target(0.89, target=0.9, direction="higher")
    assert meets_target(0.02, target=0.02, direction="lower")
    assert not meets_target(0.03, target=0.02, direction="lower")


def test_meets_target_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        meets_target(1.0, target=1.0, direction="up")
