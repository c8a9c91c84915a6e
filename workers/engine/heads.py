"""Play 4, phase one: a fresh classification head trained on frozen (cached) encoder features.

A linear head (the default) is fitted to convergence as a multinomial logistic regression (scikit-learn's
L-BFGS, cheap on cached features) for a small grid of regularisation strengths, on the raw features and on
L2-normalised ones; the candidate with the best validation score in the committed metric is loaded into the
torch head. The grid contains scikit-learn's default probe (raw features, C=1) and the bake-off's probe
(L2-normalised, C=10), so on validation the head is never worse than either. A head with a hidden layer
trains with AdamW and per-epoch early stopping on the committed metric.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_limits
from torch import nn

from workers.engine.data import ReportFn
from workers.engine.metrics import check_training_metric, is_better

# Inverse regularisation strengths tried by the linear (L-BFGS) head, on raw and on L2-normalised features.
DEFAULT_C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
SOLVERS = ("lbfgs", "adamw")
NORMALIZE_KEY = "l2_normalize_input"

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


def validation_scores(y_true: np.ndarray, y_pred: np.ndarray, *, positive_label: int | None = None) -> dict[str, float]:
    """{"val_macro_f1", "val_accuracy", "val_n"} plus, with a positive class id, "val_false_positive_rate"
    (FP / negatives; 0.0 when there are no negatives) and "val_negatives"."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    macro_f1, accuracy = classification_scores(y_true, y_pred)
    scores = {"val_macro_f1": macro_f1, "val_accuracy": accuracy, "val_n": float(len(y_true))}
    if positive_label is not None:
        negatives = y_true != positive_label
        count = int(negatives.sum())
        scores["val_false_positive_rate"] = float(np.mean(y_pred[negatives] == positive_label)) if count else 0.0
        scores["val_negatives"] = float(count)
    return scores


def validation_interval(y_true, y_pred, metric: str, *, positive_label: int | None = None, resamples: int = 2_000,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval (``level``, 95% by default) on a run's validation ``metric``
    ("accuracy", "macro_f1" or "false_positive_rate", the last with ``positive_label``): the validation rows
    resampled with replacement within each true class, as Play 5 resamples its test rows. Seeded: the same
    rows, predictions and seed give the same interval. Macro-F1 averages over the labels present in truth
    or predictions, as ``validation_scores`` does."""
    from workers.engine.evaluation import _percentile_ci, metric_from_confusions, resampled_confusions

    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0 or len(y_true) != len(y_pred):
        raise ValueError("the validation labels and predictions must be non-empty and of equal length")
    if not 0 < level < 1 or resamples < 1:
        raise ValueError("level must be in (0, 1) and resamples at least 1")
    present = np.unique(np.concatenate([y_true, y_pred]))
    code = {int(label): i for i, label in enumerate(present)}
    positive = code.get(int(positive_label)) if positive_label is not None else None
    if metric == "false_positive_rate" and positive is None:
        return 0.0, 0.0  # the positive class is never seen nor predicted: no false positive in any resample
    recode = np.vectorize(code.__getitem__, otypes=[np.int64])
    values = np.concatenate([
        metric_from_confusions(chunk[0], metric, positive)
        for chunk in resampled_confusions(recode(y_true), [recode(y_pred)], num_labels=len(present),
                                          resamples=resamples, seed=seed)])
    if metric == "false_positive_rate":
        values = np.nan_to_num(values, nan=0.0)  # no negatives drawn: 0.0, as validation_scores says
    return _percentile_ci(values, level)


def selection_key(scores: dict[str, float], metric: str) -> tuple[float, float, float]:
    """Sort key, larger is better: the committed metric in its direction, then macro-F1, then accuracy."""
    value = scores[f"val_{metric}"]
    primary = -value if not is_better(1.0, 0.0, metric=metric) else value
    return primary, scores["val_macro_f1"], scores["val_accuracy"]


class ClassifierHead(nn.Module):
    """Linear head, or one hidden layer (ReLU + dropout) then linear; maps a pooled vector to logits.

    With ``normalize`` the pooled vector is L2-normalised first (cosine geometry, as sentence encoders are
    trained); the weights then apply to unit vectors. The flag travels in the state dict as a one-element
    buffer ``l2_normalize_input``, so ``from_state_dict`` (and any code handing heads around as state
    dicts) rebuilds it.
    """

    def __init__(
        self, in_dim: int, num_labels: int, hidden: int | None = None, dropout: float = 0.1, normalize: bool = False
    ) -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError("a classifier head needs at least two labels")
        self.in_dim, self.num_labels, self.hidden_dim, self.dropout_p = in_dim, num_labels, hidden, dropout
        self.normalize = bool(normalize)
        if self.normalize:
            self.register_buffer(NORMALIZE_KEY, torch.ones(1))
        self.hidden = nn.Linear(in_dim, hidden) if hidden else None
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden or in_dim, num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            features = nn.functional.normalize(features, dim=-1, eps=1e-12)
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
            "normalize": self.normalize,
        }

    @classmethod
    def from_state_dict(
        cls, state: dict[str, torch.Tensor], *, dropout: float = 0.1
    ) -> ClassifierHead:
        """Rebuild a head whose shape (linear or one-hidden-layer) and normalisation are read off ``state``."""
        normalize = NORMALIZE_KEY in state
        hidden = int(state["hidden.weight"].shape[0]) if "hidden.weight" in state else None
        in_dim = int(state["hidden.weight" if hidden else "out.weight"].shape[1])
        head = cls(in_dim, int(state["out.weight"].shape[0]), hidden=hidden, dropout=dropout, normalize=normalize)
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
    """Best head weights plus the history.

    For the AdamW path a history entry is an epoch; for the L-BFGS path it is a candidate (C, normalize)
    of the regularisation grid, in the order tried, and ``best_epoch`` is the chosen candidate's 1-based
    index. Entries hold train_loss, val_macro_f1, val_accuracy (val_false_positive_rate with a positive
    class) and val_metric (the committed metric). ``metric`` is the metric the best entry was chosen by.
    """

    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    best_epoch: int
    best_val_macro_f1: float
    best_val_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    metric: str = "macro_f1"
    best_val_metric: float | None = None
    positive_label: int | None = None
    solver: str = "adamw"
    best_c: float | None = None

    def build(self) -> ClassifierHead:
        """A ClassifierHead holding the best weights, in eval mode."""
        head = ClassifierHead(**self.config)
        head.load_state_dict(self.state_dict)
        return head.eval()

    def predict(self, features: ArrayLike) -> np.ndarray:
        """Class ids predicted for feature rows."""
        return _predict(self.build(), _as_features(features))


def _check_positive(positive_label: int | None, num_labels: int) -> int | None:
    if positive_label is None:
        return None
    if isinstance(positive_label, bool) or not isinstance(positive_label, (int, np.integer)):
        raise ValueError(f"positive_label must be a class id (int), got {positive_label!r}")
    if not 0 <= int(positive_label) < num_labels:
        raise ValueError(f"positive_label must be a class id in [0, {num_labels})")
    return int(positive_label)


def _logistic_head(
    x_train: np.ndarray, y_train: np.ndarray, *, num_labels: int, c: float, normalize: bool, dropout: float
) -> ClassifierHead:
    """A linear ClassifierHead holding a multinomial logistic regression fitted to convergence (L-BFGS)."""
    x = x_train / np.clip(np.linalg.norm(x_train, axis=1, keepdims=True), 1e-12, None) if normalize else x_train
    probe = LogisticRegression(C=c, max_iter=3000)
    # BLAS gets as many threads as torch: on a shared host an unbounded pool oversubscribes the cores and
    # made these small fits an order of magnitude slower.
    with threadpool_limits(limits=max(1, torch.get_num_threads()), user_api="blas"):
        probe.fit(x, y_train)
    classes = probe.classes_.astype(int)
    weight = np.zeros((num_labels, x.shape[1]), dtype=np.float64)
    bias = np.full(num_labels, -1e4, dtype=np.float64)  # a class absent from train is never predicted
    if len(classes) == 2:  # sklearn keeps one row for two classes: logit difference w.x + b
        weight[classes[0]], bias[classes[0]] = -probe.coef_[0] / 2, -probe.intercept_[0] / 2
        weight[classes[1]], bias[classes[1]] = probe.coef_[0] / 2, probe.intercept_[0] / 2
    else:
        weight[classes], bias[classes] = probe.coef_, probe.intercept_
    head = ClassifierHead(x.shape[1], num_labels, hidden=None, dropout=dropout, normalize=normalize)
    with torch.no_grad():
        head.out.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        head.out.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return head.eval()


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
    metric: str = "macro_f1",
    positive_label: int | None = None,
    solver: str | None = None,
    c_grid: tuple[float, ...] = DEFAULT_C_GRID,
) -> HeadResult:
    """Train a fresh head on fixed features; keep the candidate or epoch best on validation ``metric``.

    ``metric`` is the committed metric ("macro_f1", "accuracy" or "false_positive_rate", the last needing
    ``positive_label``, a class id), used in its direction; ties go to higher macro-F1, then accuracy.

    ``solver`` "lbfgs" (the default for a linear head, ``hidden`` None): multinomial logistic regression
    fitted to convergence for every C in ``c_grid``, on raw and on L2-normalised features (a head with
    ``normalize``); ``lr``/``epochs``/``patience``/``batch_size``/``weight_decay`` do not apply and
    ``report`` is called once per candidate. ``solver`` "adamw" (the default, and the only choice, with a
    hidden layer): AdamW + cross-entropy epochs; training stops once the metric has not improved for more
    than ``patience`` consecutive epochs (patience=0: stop at the first non-improving epoch).

    Deterministic for a given ``seed``. ``report(step, {train_loss, val_macro_f1, val_accuracy, ...},
    progress)`` is called per epoch/candidate, the last time with progress 1.0; whatever it raises
    propagates.
    """
    if epochs < 1 or patience < 0 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1 and patience >= 0")
    positive_label = _check_positive(positive_label, num_labels)
    check_training_metric(metric, positive_label)
    solver = solver or ("lbfgs" if hidden is None else "adamw")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {SOLVERS}")
    if solver == "lbfgs" and hidden is not None:
        raise ValueError("the lbfgs solver fits a linear head; a hidden layer trains with solver='adamw'")
    if solver == "lbfgs" and (not c_grid or any(c <= 0 for c in c_grid)):
        raise ValueError("c_grid must hold positive regularisation strengths")
    x_train, x_val = _as_features(train_X), _as_features(val_X)
    y_train, y_val = _as_labels(train_y, num_labels), _as_labels(val_y, num_labels)
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError("features and labels differ in length")
    if len(x_train) == 0 or len(x_val) == 0:
        raise ValueError("train and validation sets must be non-empty")
    if solver == "lbfgs":
        if len(torch.unique(y_train)) < 2:
            raise ValueError("the train split needs at least two classes")
        with seeded(seed):  # the torch head's (overwritten) initialisation must not touch the caller's RNG
            return _fit_lbfgs(
                x_train, y_train, x_val, y_val, num_labels=num_labels, metric=metric,
                positive_label=positive_label, c_grid=tuple(float(c) for c in c_grid), dropout=dropout,
                report=report,
            )

    history: list[dict[str, float]] = []
    y_val_np = y_val.numpy()
    with seeded(seed):
        head = ClassifierHead(x_train.shape[1], num_labels, hidden=hidden, dropout=dropout)
        optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
        generator = torch.Generator().manual_seed(seed)
        best_key: tuple[float, ...] | None = None
        best_scores: dict[str, float] = {}
        best_epoch, best_state = 0, copy.deepcopy(head.state_dict())
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
            scores = validation_scores(y_val_np, _predict(head, x_val), positive_label=positive_label)
            metrics = {"epoch": float(epoch), "train_loss": total_loss / len(x_train), **_public(scores, metric)}
            history.append(metrics)
            key = selection_key(scores, metric)
            if best_key is None or key[0] > best_key[0]:
                best_key, best_scores, best_epoch = key, scores, epoch
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
        best_val_macro_f1=best_scores["val_macro_f1"],
        best_val_accuracy=best_scores["val_accuracy"],
        history=history,
        stopped_early=stopped_early,
        metric=metric,
        best_val_metric=best_scores[f"val_{metric}"],
        positive_label=positive_label,
        solver="adamw",
    )


def _public(scores: dict[str, float], metric: str) -> dict[str, float]:
    """Validation scores as reported: without the counts, plus val_metric (the committed metric's value)."""
    shown = {k: v for k, v in scores.items() if k not in ("val_n", "val_negatives")}
    shown["val_metric"] = scores[f"val_{metric}"]
    return shown


def _fit_lbfgs(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    num_labels: int,
    metric: str,
    positive_label: int | None,
    c_grid: tuple[float, ...],
    dropout: float,
    report: ReportFn | None,
) -> HeadResult:
    xt, yt = x_train.numpy().astype(np.float64), y_train.numpy()
    y_val_np = y_val.numpy()
    candidates = [(normalize, c) for normalize in (False, True) for c in c_grid]
    history: list[dict[str, float]] = []
    best: tuple[tuple[float, ...], int, ClassifierHead, dict[str, float], float] | None = None
    for step, (normalize, c) in enumerate(candidates, start=1):
        head = _logistic_head(xt, yt, num_labels=num_labels, c=c, normalize=normalize, dropout=dropout)
        with torch.no_grad():
            train_loss = float(nn.functional.cross_entropy(head(x_train), y_train))
        scores = validation_scores(y_val_np, _predict(head, x_val), positive_label=positive_label)
        metrics = {"epoch": float(step), "C": c, "normalize": float(normalize), "train_loss": train_loss,
                   **_public(scores, metric)}
        history.append(metrics)
        key = selection_key(scores, metric)
        if best is None or key > best[0]:
            best = (key, step, head, scores, c)
        if report is not None:
            report(step, metrics, step / len(candidates))
    assert best is not None
    _, step, head, scores, c = best
    return HeadResult(
        state_dict={k: v.detach().clone() for k, v in head.state_dict().items()},
        config=head.config(),
        best_epoch=step,
        best_val_macro_f1=scores["val_macro_f1"],
        best_val_accuracy=scores["val_accuracy"],
        history=history,
        stopped_early=False,
        metric=metric,
        best_val_metric=scores[f"val_{metric}"],
        positive_label=positive_label,
        solver="lbfgs",
        best_c=c,
    )
