"""Play 4, phase two: progressive top-down unfreezing at discriminative, much lower learning rates.

Stage 0 is the head alone on the frozen encoder (trained here only when no head is given). Stage s
unfreezes layer groups 0..s-1 of ``Encoder.layer_groups()`` (group 0 = top transformer block, the last
group = embeddings). After every stage the committed validation metric (macro-F1, accuracy or
false-positive rate, in its direction) is measured. A stage counts as worse only when the metric is behind
the best stage by more than ``noise_se`` standard errors (binomial SE sqrt(p(1-p)/n) at the best value,
n = validation rows, or validation negatives for false-positive rate; ``workers.engine.metrics``), so a
one-example wobble never stops a run; it stops after more than ``patience`` worse stages in a row. The best
stage (any strict improvement counts) is always the one restored and checkpointed.

Batches are random by default (dynamic padding); ``batching="bucketed"`` groups rows of similar length,
which pads less but made batches less i.i.d. and cost about a point of macro-F1 in bench/RESULTS.md. The
speed comes instead from ``workers.engine.prefix``: the frozen blocks below a stage's trainable ones are
run once per stage, not once per step (exact, since frozen blocks run without dropout).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workers.engine.checkpoints import (  # noqa: F401 - load_checkpoint is part of this module's API
    CHECKPOINT_FORMAT,
    checkpoint_directory,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from workers.engine.data import ReportFn, TrainingData, require_training_data
from workers.engine.encoders import POOLINGS, Encoder, autocast_for
from workers.engine.heads import ClassifierHead, HeadResult, seeded, validation_scores
from workers.engine.metrics import check_training_metric, is_better, metric_standard_error, worsening
from workers.engine.prefix import PrefixCache, PrefixUnavailable

CHECKPOINT_NAME = "unfreeze-best"  # a folder (see workers.engine.checkpoints)
FROZEN_CHECKPOINT_NAME = "frozen-head"
LR_DIVISOR_RANGE = (10.0, 100.0)  # Play 4: "ten to a hundred times lower than normal"
BATCHINGS = ("random", "bucketed")
PREFIX_CACHE_MAX_MB = 2048.0
# Defaults chosen on the demo data and on man-page descriptions (bench/RESULTS.md, "Play 4 defaults on real
# data"): one epoch per stage at a 30x lower rate gained +0.01 or nothing; two epochs at 10x gained +0.03.
DEFAULT_LR_DIVISOR = 10.0
DEFAULT_EPOCHS_PER_STAGE = 2
DEFAULT_PATIENCE = 1
DEFAULT_NOISE_SE = 1.0

# evaluate(encoder, head, stage) -> {"val_macro_f1": float, "val_accuracy": float, ...}: must hold
# "val_<metric>" for the committed metric; optional "val_n" / "val_negatives" size the noise margin.
Evaluator = Callable[[Encoder, ClassifierHead, int], dict[str, float]]

# Keyword arguments of progressive_unfreeze that define the recipe (stored in checkpoints, reused on retrain).
RECIPE_KEYS = (
    "head_lr",
    "lr_divisor",
    "layer_decay",
    "max_stages",
    "epochs_per_stage",
    "batch_size",
    "max_length",
    "warmup_ratio",
    "patience",
    "seed",
    "pooling",
    "weight_decay",
    "max_grad_norm",
    "dropout",
    "batching",
    "metric",
    "positive_label",
    "noise_se",
)
# Keywords that change how a run executes but not its arithmetic; a retrain may override them too.
RUNTIME_KEYS = ("report", "checkpoint_dir", "evaluate", "prefix_cache", "prefix_cache_max_mb")


@dataclass
class UnfreezeResult:
    """Outcome of a progressive-unfreezing run; the encoder passed in now holds the best stage's weights."""

    best_stage: int
    best_val_macro_f1: float
    best_val_accuracy: float
    stages: list[dict[str, Any]]
    stopped_early: bool
    stop_reason: str
    checkpoint_path: Path | None
    checkpoint_sha256: str | None
    head_state_dict: dict[str, torch.Tensor] = field(repr=False)
    head_config: dict[str, Any] = field(default_factory=dict)
    label_names: list[str] = field(default_factory=list)
    recipe: dict[str, Any] = field(default_factory=dict)
    metric: str = "macro_f1"
    best_val_metric: float | None = None

    @property
    def checkpoint_directory(self) -> Path | None:
        """The checkpoint folder (what a serving stack loads); ``checkpoint_path`` is its manifest.json."""
        return checkpoint_directory(self.checkpoint_path) if self.checkpoint_path is not None else None

    def build_head(self) -> ClassifierHead:
        """The best head, on CPU, in eval mode."""
        head = ClassifierHead(**self.head_config)
        head.load_state_dict(self.head_state_dict)
        return head.eval()


# -- stage helpers --------------------------------------------------------------------------------


def check_lr_divisor(lr_divisor: float) -> None:
    """Raise ValueError unless ``lr_divisor`` is within [10, 100] (the playbook's allowed range)."""
    low, high = LR_DIVISOR_RANGE
    if not low <= lr_divisor <= high:
        raise ValueError(f"lr_divisor must be within [{low:g}, {high:g}] (Play 4), got {lr_divisor:g}")


def stage_trainable_parameters(encoder: Encoder, stage: int) -> list[str]:
    """Names of the encoder parameters that train at ``stage`` (layer groups 0..stage-1); no mutation."""
    groups = encoder.layer_groups()
    if not 0 <= stage <= len(groups):
        raise ValueError(f"stage must be within [0, {len(groups)}], got {stage}")
    unfrozen = {id(p) for group in groups[:stage] for p in group.parameters()}
    return [name for name, p in encoder.model.named_parameters() if id(p) in unfrozen]


def apply_stage(encoder: Encoder, stage: int) -> list[str]:
    """Set requires_grad for ``stage``: True on groups 0..stage-1, False on every other encoder parameter."""
    trainable = set(stage_trainable_parameters(encoder, stage))
    for name, param in encoder.model.named_parameters():
        param.requires_grad_(name in trainable)
    return sorted(trainable)


def stage_learning_rates(
    stage: int, *, head_lr: float = 1e-3, lr_divisor: float = DEFAULT_LR_DIVISOR, layer_decay: float = 0.8
) -> dict[str, float]:
    """Peak LRs at ``stage``: {"head": head_lr, "group_g": head_lr / lr_divisor * layer_decay**g}."""
    check_lr_divisor(lr_divisor)
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be within (0, 1], got {layer_decay:g}")
    rates = {"head": head_lr}
    for group in range(stage):
        rates[f"group_{group}"] = head_lr / lr_divisor * layer_decay**group
    return rates


def warmup_then_linear_decay(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear rise to 1 over ``warmup_steps``, then linear decay to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def random_batches(count: int, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Index batches of a seeded random permutation (every row once per epoch)."""
    order = rng.permutation(count).tolist()
    return [order[i : i + batch_size] for i in range(0, count, batch_size)]


def length_bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Index batches of similar token length (little padding), in a seeded random order.

    Examples are shuffled, then stably sorted by length (so equal lengths are mixed), cut into batches,
    and the batches are shuffled.
    """
    shuffled = rng.permutation(len(lengths))
    ordered = sorted(shuffled.tolist(), key=lambda i: lengths[i])
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


# -- prediction & evaluation ------------------------------------------------------------------------


def predict_logits(
    encoder: Encoder,
    head: ClassifierHead,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 128,
    pooling: str = "mean",
) -> torch.Tensor:
    """Logits (n, k) of encoder + head for ``texts`` on the encoder's device (no grad; train/eval flags
    are restored)."""
    features = encoder.encode(texts, batch_size=batch_size, max_length=max_length, pooling=pooling)
    was_training = head.training
    head.eval()
    try:
        with torch.inference_mode():
            return head(features.to(encoder.device, dtype=next(head.parameters()).dtype))
    finally:
        head.train(was_training)


def predict_label_ids(
    encoder: Encoder,
    head: ClassifierHead,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 128,
    pooling: str = "mean",
) -> np.ndarray:
    """Class ids predicted by encoder + head for ``texts``."""
    logits = predict_logits(encoder, head, texts, batch_size=batch_size, max_length=max_length, pooling=pooling)
    return logits.argmax(dim=-1).cpu().numpy()


def validation_evaluator(
    data: TrainingData, *, batch_size: int, max_length: int, pooling: str, positive_id: int | None = None
) -> Evaluator:
    """The default evaluator: ``heads.validation_scores`` on ``data.val`` (macro-F1, accuracy, and the
    false-positive rate with a positive class id)."""
    y_val = data.label_ids(data.val)

    def evaluate(encoder: Encoder, head: ClassifierHead, stage: int) -> dict[str, float]:
        preds = predict_label_ids(
            encoder, head, data.val.texts, batch_size=batch_size, max_length=max_length, pooling=pooling
        )
        return validation_scores(y_val, preds, positive_label=positive_id)

    return evaluate


def _cached_scores(
    cache: PrefixCache,
    features: Sequence[dict[str, list[int]]],
    head: ClassifierHead,
    y: np.ndarray,
    *,
    batch_size: int,
    pooling: str,
    positive_id: int | None = None,
) -> dict[str, float]:
    """``heads.validation_scores`` with the frozen prefix replayed from ``cache`` (no grad)."""
    encoder = cache.encoder
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    preds = np.empty(len(features), dtype=np.int64)
    with encoder.preserve_modes(), torch.inference_mode(), autocast_for(encoder.device), cache.replaying() as run:
        encoder.model.eval()
        was_training = head.training
        head.eval()
        try:
            dtype = next(head.parameters()).dtype
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                logits = head(run.pooled(features, idx, pooling=pooling).to(dtype))
                preds[idx] = logits.argmax(dim=-1).cpu().numpy()
        finally:
            head.train(was_training)
    return validation_scores(y, preds, positive_label=positive_id)


def _prefix_note(train_cache: PrefixCache | None, off: str | None) -> str:
    """What a stage record says about the prefix cache."""
    if train_cache is not None:
        return f"from block {train_cache.boundary}"
    if off is not None:
        return f"off: {off}" if off else "off"
    return "not used at this stage"


# -- the run --------------------------------------------------------------------------------------


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _build_head(
    head_state: dict[str, torch.Tensor] | HeadResult | ClassifierHead | None,
    encoder: Encoder,
    num_labels: int,
    dropout: float,
) -> ClassifierHead:
    if head_state is None:
        return ClassifierHead(encoder.hidden_size, num_labels, dropout=dropout)
    if isinstance(head_state, HeadResult):
        head = head_state.build()
    elif isinstance(head_state, ClassifierHead):
        head = ClassifierHead(**head_state.config())
        head.load_state_dict(_snapshot(head_state))
    else:
        head = ClassifierHead.from_state_dict(head_state, dropout=dropout)
    if head.in_dim != encoder.hidden_size or head.num_labels != num_labels:
        raise ValueError(
            f"head maps {head.in_dim} -> {head.num_labels} but the encoder has hidden size "
            f"{encoder.hidden_size} and the data has {num_labels} labels"
        )
    return head


class _Progress:
    """Maps training steps to a non-decreasing progress in [0, 0.99]; 1.0 is reserved for "finished"."""

    def __init__(self, planned_steps: int) -> None:
        self.planned, self.step, self.value = max(planned_steps, 1), 0, 0.0

    def advance(self) -> float:
        self.step += 1
        self.value = max(self.value, min(0.99, 0.99 * self.step / self.planned))
        return self.value


def progressive_unfreeze(
    encoder: Encoder,
    head_state: dict[str, torch.Tensor] | HeadResult | ClassifierHead | None,
    data: TrainingData,
    *,
    head_lr: float = 1e-3,
    lr_divisor: float = DEFAULT_LR_DIVISOR,
    layer_decay: float = 0.8,
    max_stages: int | None = None,
    epochs_per_stage: int = DEFAULT_EPOCHS_PER_STAGE,
    batch_size: int = 16,
    max_length: int = 128,
    warmup_ratio: float = 0.1,
    patience: int = DEFAULT_PATIENCE,
    seed: int = 0,
    report: ReportFn | None = None,
    checkpoint_dir: Path | None = None,
    pooling: str = "mean",
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
    dropout: float = 0.1,
    batching: str = "random",
    evaluate: Evaluator | None = None,
    prefix_cache: bool = True,
    prefix_cache_max_mb: float = PREFIX_CACHE_MAX_MB,
    metric: str = "macro_f1",
    positive_label: str | int | None = None,
    noise_se: float = DEFAULT_NOISE_SE,
) -> UnfreezeResult:
    """Unfreeze the encoder top-down, one layer group per stage, keeping the best validation stage.

    ``head_state`` is the frozen-phase head (HeadResult or state dict, trained on features with the same
    ``pooling``/``max_length``); stage 0 then only measures it. With None, stage 0 trains a fresh head on
    the frozen encoder. Stage s (1..max_stages, default all groups) trains the head at ``head_lr`` and
    group g < s at ``head_lr / lr_divisor * layer_decay**g`` with AdamW, linear warm-up then linear decay.
    ``metric`` (the committed metric: "macro_f1", "accuracy" or "false_positive_rate", the last with
    ``positive_label``, a label name or class id) picks the best stage in its direction (ties: the earlier
    stage). A stage is *worse* when it trails the best stage by more than ``noise_se`` binomial standard
    errors (module docstring; ``noise_se=0`` makes any drop count); the run stops after more than
    ``patience`` worse stages in a row (a stage within noise, or better, resets the count). The best
    stage's encoder and head weights are restored in place and, if ``checkpoint_dir`` is given, written
    there atomically once at the end (a run cancelled by ``report`` raising leaves no file).
    ``evaluate`` replaces the validation evaluator (tests plant curves with it). ``batching`` is "random"
    (default) or "bucketed" (similar lengths together). With ``prefix_cache`` the states entering each
    stage's lowest trainable block are computed once (within ``prefix_cache_max_mb``) and replayed; the
    result is the same as without it, and a model it cannot replay exactly runs uncached (the stage
    records say which). Only ``data`` (train + validation) is ever read. If the run raises (e.g. a
    cancelling ``report``), the encoder may hold partly trained weights; its requires_grad flags are
    restored either way.
    """
    data = require_training_data(data)
    check_lr_divisor(lr_divisor)
    positive_id = _positive_id(positive_label, data.label_names)
    check_training_metric(metric, positive_id)
    if noise_se < 0:
        raise ValueError("noise_se must be >= 0")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; expected one of {POOLINGS}")
    if epochs_per_stage < 1 or batch_size < 1 or patience < 0 or not 0.0 <= warmup_ratio < 1.0:
        raise ValueError("need epochs_per_stage >= 1, batch_size >= 1, patience >= 0, 0 <= warmup_ratio < 1")
    if max_stages is not None and max_stages < 0:
        raise ValueError("max_stages must be >= 0")
    if batching not in BATCHINGS:
        raise ValueError(f"unknown batching {batching!r}; expected one of {BATCHINGS}")
    stage_learning_rates(0, head_lr=head_lr, lr_divisor=lr_divisor, layer_decay=layer_decay)  # validates
    recipe = {
        "head_lr": head_lr,
        "lr_divisor": lr_divisor,
        "layer_decay": layer_decay,
        "max_stages": max_stages,
        "epochs_per_stage": epochs_per_stage,
        "batch_size": batch_size,
        "max_length": max_length,
        "warmup_ratio": warmup_ratio,
        "patience": patience,
        "seed": seed,
        "pooling": pooling,
        "weight_decay": weight_decay,
        "max_grad_norm": max_grad_norm,
        "dropout": dropout,
        "batching": batching,
        "metric": metric,
        "positive_label": None if positive_id is None else data.label_names[positive_id],
        "noise_se": noise_se,
    }

    device = encoder.device
    groups = encoder.layer_groups()
    last_stage = len(groups) if max_stages is None else min(max_stages, len(groups))
    with seeded(seed):  # a fresh head's random init must follow the seed too
        head = _build_head(head_state, encoder, len(data.label_names), dropout).to(device)

    train_features = encoder.tokenize(data.train.texts, max_length=max_length)
    train_lengths = [len(f["input_ids"]) for f in train_features]
    train_y = torch.as_tensor(data.label_ids(data.train), device=device)
    batches_per_epoch = math.ceil(len(train_features) / batch_size)
    trained_stages = last_stage + (1 if head_state is None else 0)
    progress = _Progress(trained_stages * epochs_per_stage * batches_per_epoch)

    # Frozen-prefix caches: one at the lowest boundary any cached stage needs, advanced per stage.
    blocks = len(encoder.transformer_layers())
    cached_evaluation = evaluate is None
    val_features = encoder.tokenize(data.val.texts, max_length=max_length) if cached_evaluation and prefix_cache else []
    y_val = np.asarray(data.label_ids(data.val))
    eval_batch = max(batch_size, 32)
    uncached_evaluation = validation_evaluator(
        data, batch_size=eval_batch, max_length=max_length, pooling=pooling, positive_id=positive_id
    )
    val_n = len(data.val) if metric != "false_positive_rate" else int(np.sum(y_val != positive_id))
    # "off": None while caching is allowed, else why not ("" when the caller switched it off).
    prefix: dict[str, Any] = {"train": None, "val": None, "stage_val": None, "off": None if prefix_cache else ""}
    budget = int(prefix_cache_max_mb * 2**20)

    def cached_from(kind: str, features: Sequence[dict[str, list[int]]], stage: int) -> PrefixCache | None:
        """The ``kind`` ("train"/"val") cache entering block ``blocks - stage``, or None to run uncached.

        The first call builds a base cache at the lowest boundary any stage of this run will need; every
        stage advances it through the still-untouched frozen blocks up to its own boundary.
        """
        boundary = blocks - stage
        if prefix["off"] is not None or not 1 <= boundary < blocks:
            return None
        try:
            if prefix[kind] is None:
                used = sum(c.nbytes for c in (prefix["train"], prefix["val"]) if c is not None)
                lowest = max(1, blocks - last_stage)
                prefix[kind] = PrefixCache.build(encoder, features, lowest, max_bytes=budget - used)
            cache = prefix[kind].advance(features, boundary)
        except PrefixUnavailable as exc:
            prefix.update(train=None, val=None, off=str(exc))
            return None
        return cache

    def train_stage(stage: int) -> dict[str, Any]:
        # The training cache is part of the stage's cost (it replaces the frozen blocks' forward passes);
        # the validation cache replaces the evaluation's forward passes and is built outside the timing.
        started = time.perf_counter()
        train_cache = cached_from("train", train_features, stage)
        cache_seconds = time.perf_counter() - started
        prefix["stage_val"] = cached_from("val", val_features, stage) if train_cache and cached_evaluation else None
        started = time.perf_counter()
        apply_stage(encoder, stage)
        rates = stage_learning_rates(stage, head_lr=head_lr, lr_divisor=lr_divisor, layer_decay=layer_decay)
        param_groups = [{"params": list(head.parameters()), "lr": rates["head"]}]
        for g in range(stage):
            param_groups.append(
                {"params": [p for p in groups[g].parameters() if p.requires_grad], "lr": rates[f"group_{g}"]}
            )
        optimizer = torch.optim.AdamW(param_groups, weight_decay=weight_decay)
        total_steps = epochs_per_stage * batches_per_epoch
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_then_linear_decay(total_steps, math.ceil(warmup_ratio * total_steps))
        )
        params = [p for group in param_groups for p in group["params"]]
        # Frozen groups stay in eval mode (no dropout), so they compute exactly the features the head was
        # fitted on; only the head and the unfrozen groups see dropout.
        encoder.model.eval()
        for group in groups[:stage]:
            group.train()
        head.train()
        rng = np.random.default_rng([seed, stage])
        loss_sum, seen = 0.0, 0
        replay = train_cache.replaying() if train_cache is not None else contextlib.nullcontext()
        with replay as runner:
            for _ in range(epochs_per_stage):
                if batching == "bucketed":
                    epoch_batches = length_bucketed_batches(train_lengths, batch_size, rng)
                else:
                    epoch_batches = random_batches(len(train_features), batch_size, rng)
                for idx in epoch_batches:
                    with autocast_for(device):
                        if runner is not None:
                            pooled = runner.pooled(train_features, idx, pooling=pooling)
                        else:
                            batch = encoder.collate([train_features[i] for i in idx])
                            pooled = encoder.forward_pooled(batch, pooling=pooling)
                        logits = head(pooled)
                    loss = nn.functional.cross_entropy(logits.float(), train_y[idx])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if max_grad_norm:
                        nn.utils.clip_grad_norm_(params, max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    batch_loss = loss.item()
                    loss_sum += batch_loss * len(idx)
                    seen += len(idx)
                    value = progress.advance()
                    if report is not None:
                        report(progress.step, {"stage": float(stage), "train_loss": batch_loss}, value)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = cache_seconds + time.perf_counter() - started
        return {
            "train_loss": loss_sum / max(seen, 1),
            "samples_per_second": seen / seconds if seconds else None,
            "seconds": seconds,
            "unfrozen_groups": list(range(stage)),
            "lrs": rates,
            "prefix_cache": _prefix_note(train_cache, prefix["off"]),
            "prefix_cache_seconds": cache_seconds,
        }

    def evaluate_stage(stage: int) -> dict[str, float]:
        if evaluate is not None:
            return evaluate(encoder, head, stage)
        val_cache = prefix["stage_val"]
        if val_cache is not None:
            return _cached_scores(
                val_cache, val_features, head, y_val, batch_size=eval_batch, pooling=pooling, positive_id=positive_id
            )
        return uncached_evaluation(encoder, head, stage)

    original_flags = {name: p.requires_grad for name, p in encoder.model.named_parameters()}
    stages: list[dict[str, Any]] = []
    key = f"val_{metric}"
    try:
        with seeded(seed, device):
            best_stage, best_record = 0, None
            best_encoder: dict[str, torch.Tensor] = {}
            best_head: dict[str, torch.Tensor] = {}
            worse_in_a_row, stopped_early, stop_reason = 0, False, ""
            for stage in range(last_stage + 1):
                if stage == 0 and head_state is not None:
                    apply_stage(encoder, 0)
                    info: dict[str, Any] = {
                        "train_loss": None,
                        "samples_per_second": None,
                        "seconds": 0.0,
                        "unfrozen_groups": [],
                        "lrs": {},
                    }
                else:
                    info = train_stage(stage)
                scores = evaluate_stage(stage)
                prefix["stage_val"] = None
                if key not in scores:
                    raise KeyError(f"the evaluator returned no {key!r} for the committed metric {metric!r}")
                n = int(scores.get("val_negatives" if metric == "false_positive_rate" else "val_n", val_n))
                record = {
                    "stage": stage,
                    **info,
                    **{k: float(v) for k, v in scores.items() if k.startswith("val_") and k not in ("val_n", "val_negatives")},
                    "val_macro_f1": float(scores.get("val_macro_f1", float("nan"))),
                    "val_accuracy": float(scores.get("val_accuracy", float("nan"))),
                    "metric": metric,
                    "val_metric": float(scores[key]),
                }
                value = record["val_metric"]
                if best_record is None or is_better(value, best_record["val_metric"], metric=metric):
                    best_stage, best_record = stage, record
                    best_encoder, best_head = _snapshot(encoder.model), _snapshot(head)
                    record.update(noise_margin=None, worse=False)
                    worse_in_a_row = 0
                else:
                    margin = noise_se * metric_standard_error(best_record["val_metric"], n)
                    behind = worsening(value, best_record["val_metric"], metric=metric)
                    worse = behind > margin
                    record.update(noise_margin=margin, worse=worse)
                    worse_in_a_row = worse_in_a_row + 1 if worse else 0
                stages.append(record)
                if report is not None:
                    shown = {"stage": float(stage), "val_macro_f1": record["val_macro_f1"],
                             "val_accuracy": record["val_accuracy"], "val_metric": value}
                    report(progress.step, shown, progress.value)
                if worse_in_a_row > patience:
                    stopped_early = stage < last_stage
                    stop_reason = (
                        f"validation {metric} turned at stage {stage}: {worse_in_a_row} stage(s) in a row behind "
                        f"the best by more than the noise margin ({value:.4f} vs best {best_record['val_metric']:.4f} "
                        f"at stage {best_stage}, margin {record['noise_margin']:.4f}); kept stage {best_stage}"
                    )
                    break
            else:
                stop_reason = f"ran all {last_stage} unfreezing stage(s); best was stage {best_stage} by {metric}"
            encoder.model.load_state_dict(best_encoder)
            head.load_state_dict(best_head)
    finally:
        for name, param in encoder.model.named_parameters():
            param.requires_grad_(original_flags[name])
        encoder.model.eval()
        head.eval()

    assert best_record is not None
    best_f1, best_acc, best_value = best_record["val_macro_f1"], best_record["val_accuracy"], best_record["val_metric"]
    if report is not None:
        report(
            progress.step + 1,
            {"best_stage": float(best_stage), "best_val_macro_f1": best_f1, "best_val_accuracy": best_acc,
             "best_val_metric": best_value},
            1.0,
        )

    head_config = head.config()
    checkpoint_path, checkpoint_sha = None, None
    if checkpoint_dir is not None:
        checkpoint_path, checkpoint_sha = save_checkpoint(
            Path(checkpoint_dir), CHECKPOINT_NAME, encoder=encoder, head_state=best_head, head_config=head_config,
            label_names=data.label_names,
            meta=_checkpoint_meta("unfreeze", recipe, best_stage, best_record, stages),
        )

    return UnfreezeResult(
        best_stage=best_stage,
        best_val_macro_f1=best_f1,
        best_val_accuracy=best_acc,
        stages=stages,
        stopped_early=stopped_early,
        stop_reason=stop_reason,
        checkpoint_path=checkpoint_path,
        checkpoint_sha256=checkpoint_sha,
        head_state_dict=best_head,
        head_config=head_config,
        label_names=list(data.label_names),
        recipe=recipe,
        metric=metric,
        best_val_metric=best_value,
    )


def _positive_id(positive_label: str | int | None, label_names: Sequence[str]) -> int | None:
    """The class id of ``positive_label`` (a label name or an id), or None."""
    if positive_label is None:
        return None
    if isinstance(positive_label, str):
        if positive_label not in label_names:
            raise ValueError(f"positive_label {positive_label!r} is not one of the labels {list(label_names)}")
        return list(label_names).index(positive_label)
    if isinstance(positive_label, bool) or not 0 <= int(positive_label) < len(label_names):
        raise ValueError(f"positive_label must be a label name or a class id in [0, {len(label_names)})")
    return int(positive_label)


# -- checkpoints (format: workers.engine.checkpoints) ----------------------------------------------


def _checkpoint_meta(
    kind: str, recipe: dict[str, Any], best_stage: int, best_record: dict[str, Any], stages: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "kind": kind,
        "recipe": dict(recipe),
        "metric": recipe.get("metric", "macro_f1"),
        "positive_label": recipe.get("positive_label"),
        "pooling": recipe.get("pooling", "mean"),
        "max_length": recipe.get("max_length", 128),
        "best_stage": best_stage,
        "best_val_macro_f1": best_record.get("val_macro_f1"),
        "best_val_accuracy": best_record.get("val_accuracy"),
        "best_val_metric": best_record.get("val_metric"),
        "stages": stages,
    }


def retrain_from_checkpoint(
    checkpoint_path: Path,
    data: TrainingData,
    *,
    device: str | torch.device | None = None,
    expected_sha256: str | None = None,
    **recipe_overrides: Any,
) -> UnfreezeResult:
    """Play 6 retrain: load encoder + head from a checkpoint and rerun progressive_unfreeze on new data.

    The stored recipe is reused, including its committed metric and positive label; ``recipe_overrides``
    (any progressive_unfreeze keyword, e.g. report, checkpoint_dir, max_stages, metric) replace parts of
    it. Stage 0 measures the previous model on the new validation split, so a retrain that does not beat
    it keeps it. The label set must be unchanged.
    """
    data = require_training_data(data)
    encoder, head, meta = load_checkpoint(checkpoint_path, device=device, expected_sha256=expected_sha256)
    if list(data.label_names) != list(meta["label_names"]):
        raise ValueError(
            f"label set changed: checkpoint has {meta['label_names']}, data has {data.label_names}"
        )
    unknown = set(recipe_overrides) - set(RECIPE_KEYS) - set(RUNTIME_KEYS)
    if unknown:
        raise TypeError(f"unknown recipe keyword(s): {sorted(unknown)}")
    stored = {k: v for k, v in meta.get("recipe", {}).items() if k in RECIPE_KEYS}
    kwargs = {**stored, **recipe_overrides}
    if "metric" in recipe_overrides and "positive_label" not in recipe_overrides:
        if recipe_overrides["metric"] != "false_positive_rate":
            kwargs.pop("positive_label", None)
    return progressive_unfreeze(encoder, head, data, **kwargs)


def save_frozen_head_checkpoint(
    encoder: Encoder, head: HeadResult, label_names: Sequence[str], recipe: dict[str, Any], checkpoint_dir: Path
) -> tuple[Path, str]:
    """Write a frozen-base head as a full checkpoint (the unchanged encoder plus the head), in the same
    format progressive_unfreeze writes, so load_checkpoint, the unfreeze stage and retrains all read it.
    The head's metric (and positive label, as a name) join ``recipe`` unless it names them.
    Returns (path of the checkpoint's manifest.json, checkpoint sha256)."""
    recipe = dict(recipe)
    recipe.setdefault("metric", head.metric)
    if head.positive_label is not None:
        recipe.setdefault("positive_label", list(label_names)[head.positive_label])
    record = {"val_macro_f1": head.best_val_macro_f1, "val_accuracy": head.best_val_accuracy,
              "val_metric": head.best_val_metric if head.best_val_metric is not None else head.best_val_macro_f1}
    stages = [{"stage": 0, **record, "metric": head.metric}]
    meta = _checkpoint_meta("frozen_head", recipe, 0, record, stages)
    meta["head_training"] = {"solver": head.solver, "best_epoch": head.best_epoch, "best_c": head.best_c}
    return save_checkpoint(
        Path(checkpoint_dir), FROZEN_CHECKPOINT_NAME, encoder=encoder, head_state=head.state_dict,
        head_config=head.config, label_names=label_names, meta=meta,
    )
