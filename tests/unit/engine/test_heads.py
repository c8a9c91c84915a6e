from __future__ import annotations

import numpy as np
import pytest
import torch

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from workers.engine.heads import ClassifierHead, classification_scores, train_frozen_head


def _blobs(n: int, seed: int, noise: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 8 dimensions (a stand-in for cached encoder features)."""
    rng = np.random.default_rng(seed)
    centers = np.eye(3, 8) * 3.0
    y = np.arange(n) % 3
    return (centers[y] + rng.normal(scale=noise, size=(n, 8))).astype(np.float32), y


TRAIN = _blobs(90, seed=0)
VAL = _blobs(45, seed=1)


def test_adamw_head_learns_and_keeps_best_epoch() -> None:
    result = train_frozen_head(*TRAIN, *VAL, num_labels=3, epochs=30, patience=3, lr=5e-2, solver="adamw")
    assert result.best_val_macro_f1 > 0.9
    f1s = [h["val_macro_f1"] for h in result.history]
    assert result.best_val_macro_f1 == max(f1s) == f1s[result.best_epoch - 1]
    assert set(result.history[0]) >= {"train_loss", "val_macro_f1", "val_accuracy"}
    # The returned weights are the best epoch's: re-scoring them reproduces its validation F1.
    assert classification_scores(VAL[1], result.predict(VAL[0]))[0] == pytest.approx(result.best_val_macro_f1)
    assert result.config == {"in_dim": 8, "num_labels": 3, "hidden": None, "dropout": 0.1, "normalize": False}
    assert result.metric == "macro_f1" and result.best_val_metric == result.best_val_macro_f1


def test_early_stopping_respects_patience() -> None:
    # Pure-noise labels: validation F1 wanders, so the run must stop once it stalls for patience+1 epochs.
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 8)).astype(np.float32), rng.integers(0, 3, 60)
    vx, vy = rng.normal(size=(30, 8)).astype(np.float32), rng.integers(0, 3, 30)
    result = train_frozen_head(x, y, vx, vy, num_labels=3, epochs=200, patience=2, lr=1e-2, solver="adamw")
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 3
    later = [h["val_macro_f1"] for h in result.history[result.best_epoch :]]
    assert all(f1 <= result.best_val_macro_f1 for f1 in later)


def test_same_seed_same_weights_and_history() -> None:
    kwargs = {"num_labels": 3, "hidden": 16, "epochs": 8, "patience": 8, "seed": 7}
    a = train_frozen_head(*TRAIN, *VAL, **kwargs)
    b = train_frozen_head(*TRAIN, *VAL, **kwargs)
    assert a.history == b.history
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    c = train_frozen_head(*TRAIN, *VAL, **{**kwargs, "seed": 8})
    assert not all(torch.equal(a.state_dict[k], c.state_dict[k]) for k in a.state_dict)


def test_training_does_not_disturb_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_frozen_head(*TRAIN, *VAL, num_labels=3, epochs=2)
    assert torch.equal(torch.rand(3), expected)


def test_hidden_head_round_trips_through_state_dict() -> None:
    result = train_frozen_head(*TRAIN, *VAL, num_labels=3, hidden=16, epochs=3)
    head = ClassifierHead.from_state_dict(result.state_dict)
    assert head.config()["hidden"] == 16 and head.in_dim == 8 and head.num_labels == 3
    np.testing.assert_array_equal(
        result.build()(torch.as_tensor(VAL[0])).argmax(-1).numpy(), result.predict(VAL[0])
    )


def test_report_is_monotone_and_cancellation_propagates() -> None:
    seen: list[float] = []
    train_frozen_head(
        *TRAIN, *VAL, num_labels=3, epochs=5, patience=10, solver="adamw", report=lambda s, m, p: seen.append(p)
    )
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 5
    seen.clear()
    result = train_frozen_head(*TRAIN, *VAL, num_labels=3, report=lambda s, m, p: seen.append(p))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == len(result.history) == 10

    def cancel(step: int, metrics: dict[str, float], progress: float) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        train_frozen_head(*TRAIN, *VAL, num_labels=3, epochs=5, report=cancel)
    with pytest.raises(RuntimeError, match="cancelled"):
        train_frozen_head(*TRAIN, *VAL, num_labels=3, epochs=5, solver="adamw", report=cancel)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="class ids"):
        train_frozen_head(TRAIN[0], TRAIN[1] + 5, *VAL, num_labels=3)
    with pytest.raises(ValueError, match="length"):
        train_frozen_head(TRAIN[0][:10], TRAIN[1], *VAL, num_labels=3)
    with pytest.raises(ValueError, match="positive_label"):
        train_frozen_head(*TRAIN, *VAL, num_labels=3, metric="false_positive_rate")
    with pytest.raises(ValueError, match="cannot select"):
        train_frozen_head(*TRAIN, *VAL, num_labels=3, metric="p95_latency_ms")
    with pytest.raises(ValueError, match="lbfgs"):
        train_frozen_head(*TRAIN, *VAL, num_labels=3, hidden=8, solver="lbfgs")


# -- the linear head is fitted to convergence: never behind a logistic-regression probe ------------------


def _hard_problem(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Five overlapping classes in 24 dimensions with uneven feature scales (like raw pooled features)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(5, 24)) * 1.2
    scale = np.exp(rng.normal(size=24))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 5, n)
        return ((centers[y] + rng.normal(scale=1.5, size=(n, 24))) * scale).astype(np.float32), y

    (x, y), (vx, vy) = draw(300), draw(150)
    return x, y, vx, vy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_head_is_at_least_as_good_as_a_logistic_regression_probe(seed: int) -> None:
    x, y, vx, vy = _hard_problem(seed)
    probe = LogisticRegression(max_iter=5000).fit(x, y)  # default C, same train rows
    probe_pred = probe.predict(vx)
    probe_f1 = f1_score(vy, probe_pred, average="macro", zero_division=0)
    result = train_frozen_head(x, y, vx, vy, num_labels=5)
    assert result.solver == "lbfgs" and result.best_c is not None
    assert result.best_val_macro_f1 >= probe_f1 - 1e-12
    assert classification_scores(vy, result.predict(vx))[0] == pytest.approx(result.best_val_macro_f1)
    # The bake-off's probe (C=10 on L2-normalised features) is in the grid too.
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    bakeoff = LogisticRegression(C=10, max_iter=5000).fit(unit(x), y).predict(unit(vx))
    assert result.best_val_macro_f1 >= f1_score(vy, bakeoff, average="macro", zero_division=0) - 1e-12
    # By accuracy too, when accuracy is the committed metric.
    by_acc = train_frozen_head(x, y, vx, vy, num_labels=5, metric="accuracy")
    assert by_acc.metric == "accuracy" and by_acc.best_val_metric == by_acc.best_val_accuracy
    assert by_acc.best_val_accuracy >= accuracy_score(vy, probe_pred) - 1e-12


def test_linear_head_beats_the_old_adamw_default_that_stopped_before_converging() -> None:
    x, y, vx, vy = _hard_problem(5)
    fitted = train_frozen_head(x, y, vx, vy, num_labels=5)
    sgd = train_frozen_head(x, y, vx, vy, num_labels=5, solver="adamw", lr=1e-3, epochs=50, patience=5)
    assert fitted.best_val_macro_f1 >= sgd.best_val_macro_f1


def test_normalised_head_survives_a_state_dict_round_trip() -> None:
    x, y, vx, vy = _hard_problem(0)
    result = train_frozen_head(x, y, vx, vy, num_labels=5, c_grid=(10.0,))
    assert len(result.history) == 2  # raw and L2-normalised features, one C each
    normalised = [h for h in result.history if h["normalize"] == 1.0][0]
    head = ClassifierHead.from_state_dict(result.state_dict)
    assert head.normalize == result.config["normalize"]
    np.testing.assert_array_equal(head.eval()(torch.as_tensor(vx)).argmax(-1).numpy(), result.predict(vx))
    forced = train_frozen_head(x, y, vx, vy, num_labels=5, c_grid=(10.0,), metric="accuracy")
    assert normalised["val_accuracy"] <= forced.best_val_accuracy


def test_committed_metric_picks_the_epoch_in_its_direction() -> None:
    """False-positive rate: lower is better, so the chosen candidate minimises it (ties: macro-F1)."""
    x, y, vx, vy = _hard_problem(3)
    result = train_frozen_head(x, y, vx, vy, num_labels=5, metric="false_positive_rate", positive_label=2)
    fprs = [h["val_false_positive_rate"] for h in result.history]
    assert result.best_val_metric == min(fprs) == result.history[result.best_epoch - 1]["val_metric"]
    negatives = vy != 2
    assert np.mean(result.predict(vx)[negatives] == 2) == pytest.approx(result.best_val_metric)
    by_f1 = train_frozen_head(x, y, vx, vy, num_labels=5)
    assert by_f1.best_val_macro_f1 == max(h["val_macro_f1"] for h in by_f1.history)
    adamw = train_frozen_head(x, y, vx, vy, num_labels=5, solver="adamw", epochs=15, patience=20,
                              metric="false_positive_rate", positive_label=2)
    assert adamw.best_val_metric == min(h["val_false_positive_rate"] for h in adamw.history)
