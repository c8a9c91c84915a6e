from __future__ import annotations

import numpy as np
import pytest
import torch

from workers.engine.heads import ClassifierHead, classification_scores, train_frozen_head


def _blobs(n: int, seed: int, noise: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 8 dimensions (a stand-in for cached encoder features)."""
    rng = np.random.default_rng(seed)
    centers = np.eye(3, 8) * 3.0
    y = np.arange(n) % 3
    return (centers[y] + rng.normal(scale=noise, size=(n, 8))).astype(np.float32), y


TRAIN = _blobs(90, seed=0)
VAL = _blobs(45, seed=1)


def test_linear_head_learns_and_keeps_best_epoch() -> None:
    result = train_frozen_head(*TRAIN, *VAL, num_labels=3, epochs=30, patience=3, lr=5e-2)
    assert result.best_val_macro_f1 > 0.9
    f1s = [h["val_macro_f1"] for h in result.history]
    assert result.best_val_macro_f1 == max(f1s) == f1s[result.best_epoch - 1]
    assert set(result.history[0]) >= {"train_loss", "val_macro_f1", "val_accuracy"}
    # The returned weights are the best epoch's: re-scoring them reproduces its validation F1.
    assert classification_scores(VAL[1], result.predict(VAL[0]))[0] == pytest.approx(result.best_val_macro_f1)
    assert result.config == {"in_dim": 8, "num_labels": 3, "hidden": None, "dropout": 0.1}


def test_early_stopping_respects_patience() -> None:
    # Pure-noise labels: validation F1 wanders, so the run must stop once it stalls for patience+1 epochs.
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 8)).astype(np.float32), rng.integers(0, 3, 60)
    vx, vy = rng.normal(size=(30, 8)).astype(np.float32), rng.integers(0, 3, 30)
    result = train_frozen_head(x, y, vx, vy, num_labels=3, epochs=200, patience=2, lr=1e-2)
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
        *TRAIN, *VAL, num_labels=3, epochs=5, patience=10, report=lambda s, m, p: seen.append(p)
    )
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 5

    def cancel(step: int, metrics: dict[str, float], progress: float) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        train_frozen_head(*TRAIN, *VAL, num_labels=3, epochs=5, report=cancel)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="class ids"):
        train_frozen_head(TRAIN[0], TRAIN[1] + 5, *VAL, num_labels=3)
    with pytest.raises(ValueError, match="length"):
        train_frozen_head(TRAIN[0][:10], TRAIN[1], *VAL, num_labels=3)
