"""Play 4, phase one: a fresh classification head trained on frozen (cached) encoder features."""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn

from workers.engine.data import ReportFn

ArrayLike = torch.Tensor | np.ndarray | list[Any]


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch/numpy/random for the block and restore the caller's RNG state afterwards.

    On CPU, deterministic algorithms are switched on (warn-only) for the block and reset after, so two
    runs with the same seed give identical weights. On CUDA only the seeds are set: full determinism
    there costs speed and needs CUBLAS_WORKSPACE_CONFIG set before CUDA starts.
    """
    on_cuda = device is not None and device.type == "cuda"
    py_state, np_state = random.getstate(), np.random.get_state()
    det_enabled = torch.are_deterministic_algorithms_enabled()
    det_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if on_cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        if not on_cuda:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(det_enabled, warn_only=det_warn_only)
            random.setstate(py_state)
            np.random.set_state(np_state)


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(macro-F1, accuracy); macro-F1 averages over the labels present in truth or predictions."""
    macro_f1 = f1_score(y_true, y_pred, average="macro", zero_division=0)
    return float(macro_f1), float(accuracy_score(y_true, y_pred))


class ClassifierHead(nn.Module):
    """Linear head, or one hidden layer (ReLU + dropout) then linear; maps a pooled vector to logits."""

    def __init__(self, in_dim: int, num_labels: int, hidden: int | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError("a classifier head needs at least two labels")
        self.in_dim, self.num_labels, self.hidden_dim, self.dropout_p = in_dim, num_labels, hidden, dropout
        self.hidden = nn.Linear(in_dim, hidden) if hidden else None
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden or in_dim, num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.hidden is not None:
            features = self.dropout(torch.relu(self.hidden(features)))
        return self.out(features)

    def config(self) -> dict[str, Any]:
        """Constructor arguments, enough to rebuild the head from a state dict."""
        return {
            "in_dim": self.in_dim,
            "num_labels": self.num_labels,
            "hidden": self.hidden_dim,
            "dropout": self.dropout_p,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], *, dropout: float = 0.1) -> ClassifierHead:
        """Rebuild a head whose shape is read off ``state`` (linear or one-hidden-layer)."""
        hidden = int(state["hidden.weight"].shape[0]) if "hidden.weight" in state else None
        in_dim = int(state["hidden.weight" if hidden else "out.weight"].shape[1])
        head = cls(in_dim, int(state["out.weight"].shape[0]), hidden=hidden, dropout=dropout)
        head.load_state_dict(state)
        return head


def _as_features(x: ArrayLike) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32).cpu()


def _as_labels(y: ArrayLike, num_labels: int) -> torch.Tensor:
    labels = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y, dtype=torch.long).cpu()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_labels):
        raise ValueError(f"labels must be class ids in [0, {num_labels})")
    return labels


@torch.no_grad()
def _predict(head: ClassifierHead, features: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    was_training = head.training
    head.eval()
    try:
        preds = [
            head(features[i : i + batch_size]).argmax(dim=-1) for i in range(0, len(features), batch_size)
        ]
    finally:
        head.train(was_training)
    return torch.cat(preds).numpy() if preds else np.zeros(0, dtype=np.int64)


@dataclass
class HeadResult:
    """Best-epoch head weights plus the per-epoch history (train_loss, val_macro_f1, val_accuracy)."""

    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    best_epoch: int
    best_val_macro_f1: float
    best_val_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False

    def build(self) -> ClassifierHead:
        """A ClassifierHead holding the best weights, in eval mode."""
        head = ClassifierHead(**self.config)
        head.load_state_dict(self.state_dict)
        return head.eval()

    def predict(self, features: ArrayLike) -> np.ndarray:
        """Class ids predicted for feature rows."""
        return _predict(self.build(), _as_features(features))


def train_frozen_head(
    train_X: ArrayLike,
    train_y: ArrayLike,
    val_X: ArrayLike,
    val_y: ArrayLike,
    *,
    num_labels: int,
    hidden: int | None = None,
    lr: float = 1e-3,
    epochs: int = 50,
    patience: int = 5,
    batch_size: int = 64,
    seed: int = 0,
    report: ReportFn | None = None,
    weight_decay: float = 0.0,
    dropout: float = 0.1,
) -> HeadResult:
    """Train a fresh head with AdamW + cross-entropy on fixed features; keep the best validation epoch.

    After each epoch, validation macro-F1 is computed; training stops once it has not improved for more
    than ``patience`` consecutive epochs (patience=0: stop at the first non-improving epoch). Deterministic
    for a given ``seed``. ``report(epoch, {train_loss, val_macro_f1, val_accuracy}, progress)`` is called
    per epoch and once with progress 1.0; whatever it raises propagates.
    """
    if epochs < 1 or patience < 0 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1 and patience >= 0")
    x_train, x_val = _as_features(train_X), _as_features(val_X)
    y_train, y_val = _as_labels(train_y, num_labels), _as_labels(val_y, num_labels)
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError("features and labels differ in length")
    if len(x_train) == 0 or len(x_val) == 0:
        raise ValueError("train and validation sets must be non-empty")

    history: list[dict[str, float]] = []
    with seeded(seed):
        head = ClassifierHead(x_train.shape[1], num_labels, hidden=hidden, dropout=dropout)
        optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
        generator = torch.Generator().manual_seed(seed)
        best_f1, best_acc, best_epoch, best_state = -1.0, 0.0, 0, copy.deepcopy(head.state_dict())
        since_best, stopped_early = 0, False
        for epoch in range(1, epochs + 1):
            head.train()
            total_loss = 0.0
            for idx in torch.randperm(len(x_train), generator=generator).split(batch_size):
                loss = nn.functional.cross_entropy(head(x_train[idx]), y_train[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(idx)
            val_f1, val_acc = classification_scores(y_val.numpy(), _predict(head, x_val))
            metrics = {
                "epoch": float(epoch),
                "train_loss": total_loss / len(x_train),
                "val_macro_f1": val_f1,
                "val_accuracy": val_acc,
            }
            history.append(metrics)
            if val_f1 > best_f1:
                best_f1, best_acc, best_epoch = val_f1, val_acc, epoch
                best_state = copy.deepcopy(head.state_dict())
                since_best = 0
            else:
                since_best += 1
            stopped_early = since_best > patience and epoch < epochs
            if report is not None:
                report(epoch, metrics, 1.0 if stopped_early else epoch / epochs)
            if stopped_early:
                break

    return HeadResult(
        state_dict=best_state,
        config=head.config(),
        best_epoch=best_epoch,
        best_val_macro_f1=best_f1,
        best_val_accuracy=best_acc,
        history=history,
        stopped_early=stopped_early,
    )
