"""Play 2 bake-off: each shortlisted encoder as a frozen feature extractor + linear probe, on this worker.

Per candidate: cross-validated probe quality (accuracy, macro-F1, optional false positive rate) with its
spread over the folds, latency per example at batch 1 (a fixed batch timed repeatedly after warm-up: median
and interquartile range over the repeats, plus per-call p50/p95), throughput at batch 32, peak memory,
parameter count, device, and the feature-cache file. A candidate that fails gets an "error" entry; the others still run.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` after resetting the peak before loading, minus
what was allocated before (memory_measure "cuda_max_memory_allocated"). On CPU there is no resettable
peak, so it is the process resident-set increase over the candidate's run (memory_measure
"cpu_rss_increase"): the largest of the current RSS (/proc/self/statm) sampled after each phase and, when
the process's lifetime high-water mark (getrusage ru_maxrss) rose during the candidate, that mark; both
minus the RSS before loading. It is approximate (freed memory the allocator keeps counts for later
candidates as already held), so ``model_bytes`` (parameters + buffers) is reported alongside.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from workers.engine.data import ReportFn
from workers.engine.encoders import Encoder, describe_device, load_encoder, resolve_device
from workers.engine.features import cached_features
from workers.engine.spread import LATENCY_REPEATS, fold_scores, measure_latency

METRIC_DIRECTIONS = {"accuracy": "higher", "macro_f1": "higher", "false_positive_rate": "lower"}
THROUGHPUT_BATCH = 32
PROBE_C = 10.0
_WARMUP_CALLS = 3
LATENCY_EXAMPLES = 8  # the fixed batch timed at batch 1, LATENCY_REPEATS times after one warm-up pass (64 calls)
# (start, end) of each phase within one candidate's share of the progress.
_PHASES = {"load": (0.0, 0.1), "features": (0.1, 0.6), "probe": (0.6, 0.75), "latency": (0.75, 1.0)}


class _ReportRaised(Exception):
    """Carries an exception raised by the caller's report callback past the per-candidate error handler."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


def _choose_folds(labels: Sequence[str], folds: int) -> int:
    counts = Counter(labels)
    if len(counts) < 2:
        raise ValueError("a bake-off needs at least two distinct labels")
    if min(counts.values()) < 2:
        small = sorted(label for label, count in counts.items() if count < 2)
        raise ValueError(f"every label needs at least 2 examples for cross-validation; too few for: {small}")
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    return min(folds, min(counts.values()))


def _rss_bytes() -> int:
    """Current resident set size; falls back to the lifetime peak where /proc is unavailable."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return _max_rss_bytes()


def _max_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes


class _MemoryMeter:
    """Peak memory of one candidate, by the method described in the module docstring."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            self.before = torch.cuda.memory_allocated(device)
        else:
            self.before, self.max_rss_before = _rss_bytes(), _max_rss_bytes()
            self.samples = [self.before]

    @property
    def measure(self) -> str:
        return "cuda_max_memory_allocated" if self.device.type == "cuda" else "cpu_rss_increase"

    def sample(self) -> None:
        if self.device.type != "cuda":
            self.samples.append(_rss_bytes())

    def peak_bytes(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device) - self.before)
        self.sample()
        peak = max(self.samples)
        max_rss = _max_rss_bytes()
        if max_rss > self.max_rss_before:
            peak = max(peak, max_rss)
        return max(0, peak - self.before)


def _probe_scores(
    features: np.ndarray,
    labels: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    positive_label: str | None,
    seed: int,
) -> dict[str, Any]:
    """Linear-probe cross-validation: pooled out-of-fold metrics plus per-fold mean/std, and ``folds_spread``
    ({metric: {mean, sd, min, max, n, values}}, sample sd) for the page.

    The probe is a logistic regression on L2-normalised features (cosine geometry, as sentence encoders
    are trained), with C=10: standardising each dimension instead over-weights noise dimensions and scored
    the packaged MiniLM about 5 points lower on the demo data.
    """
    features = features / np.clip(np.linalg.norm(features, axis=1, keepdims=True), 1e-12, None)
    oof = np.empty(len(labels), dtype=object)
    fold_f1, fold_acc = [], []
    for train_idx, test_idx in splits:
        probe = LogisticRegression(C=PROBE_C, max_iter=2000, random_state=seed)
        probe.fit(features[train_idx], labels[train_idx])
        predicted = probe.predict(features[test_idx])
        oof[test_idx] = predicted
        fold_f1.append(f1_score(labels[test_idx], predicted, average="macro", zero_division=0))
        fold_acc.append(accuracy_score(labels[test_idx], predicted))
    predictions = oof.astype(str)
    scores: dict[str, Any] = {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, average="macro", zero_division=0)),
        "false_positive_rate": None,
        "fold_macro_f1_mean": float(np.mean(fold_f1)),
        "fold_macro_f1_std": float(np.std(fold_f1)),
        "fold_accuracy_mean": float(np.mean(fold_acc)),
        "fold_accuracy_std": float(np.std(fold_acc)),
        "folds_spread": fold_scores(labels.tolist(), predictions.tolist(), splits, positive_label=positive_label),
    }
    if positive_label is not None:
        negatives = labels != positive_label
        if negatives.any():
            scores["false_positive_rate"] = float(np.mean(predictions[negatives] == positive_label))
    return scores


def _speed(
    encoder: Encoder, texts: Sequence[str], *, latency_examples: int, max_length: int, pooling: str,
    latency_repeats: int = LATENCY_REPEATS,
) -> dict[str, Any]:
    """Batch-1 latency (ms per example; repeated, see ``spread.measure_latency``) and batch-32 throughput
    (examples/s), after warm-up."""
    sample = [texts[i % len(texts)] for i in range(max(latency_examples, 1))]
    for text in sample[:_WARMUP_CALLS]:
        encoder.encode([text], batch_size=1, max_length=max_length, pooling=pooling)
    latency = measure_latency(  # encode returns on the CPU, so each call is synchronised
        lambda text: encoder.encode([text], batch_size=1, max_length=max_length, pooling=pooling),
        sample, batch=len(sample), repeats=latency_repeats,
    )

    batch_texts = [
        texts[i % len(texts)] for i in range(max(2 * THROUGHPUT_BATCH, min(len(texts), 8 * THROUGHPUT_BATCH)))
    ]
    encoder.encode(
        batch_texts[:THROUGHPUT_BATCH], batch_size=THROUGHPUT_BATCH, max_length=max_length, pooling=pooling
    )
    start = time.perf_counter()
    encoder.encode(batch_texts, batch_size=THROUGHPUT_BATCH, max_length=max_length, pooling=pooling)
    elapsed = time.perf_counter() - start
    return {
        "p50_latency_ms": latency["p50_latency_ms"],
        "p95_latency_ms": latency["p95_latency_ms"],
        "latency": latency,
        "throughput_per_s": len(batch_texts) / elapsed if elapsed > 0 else float("inf"),
        "latency_examples": float(len(sample)),
        "throughput_examples": float(len(batch_texts)),
    }


def run_bakeoff(
    candidates: list[dict[str, str]],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    cache_dir: Path,
    metric: str = "macro_f1",
    positive_label: str | None = None,
    folds: int = 5,
    seed: int = 0,
    max_length: int = 128,
    pooling: str = "mean",
    report: ReportFn | None = None,
    latency_examples: int = LATENCY_EXAMPLES,
    device: str | torch.device | None = None,
    offline: bool = True,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Compare 2-3 candidate encoders ({"name", "source"}) as frozen feature extractors on a labelled sample.

    Probe: LogisticRegression(C=10, max_iter=2000) on L2-normalised features, StratifiedKFold(shuffle, seed) with folds
    reduced to the smallest class count; scores are pooled out-of-fold predictions. Returns
    {"candidates": {name: scorecard | {"error", "stage"}}, "metric", "direction", "ranking", "best",
    "device", "folds", "rows", "labels", "seed"}. Load/evaluation failures become error entries;
    whatever ``report`` raises propagates.
    """
    if metric not in METRIC_DIRECTIONS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRIC_DIRECTIONS)}")
    if not 2 <= len(candidates) <= 3:
        raise ValueError(f"Play 2 shortlists two or three candidates, got {len(candidates)}")
    names = [c.get("name") for c in candidates]
    if any(not n or not c.get("source") for n, c in zip(names, candidates)) or len(set(names)) != len(names):
        raise ValueError("every candidate needs a unique 'name' and a 'source'")
    if len(texts) != len(labels) or not texts:
        raise ValueError("need the same, non-zero number of texts and labels")
    texts, label_array = [str(t) for t in texts], np.asarray([str(label) for label in labels], dtype=object)
    if positive_label is not None and positive_label not in set(label_array):
        raise ValueError(f"positive_label {positive_label!r} does not occur in labels")
    if metric == "false_positive_rate" and positive_label is None:
        raise ValueError("metric 'false_positive_rate' needs a positive_label")
    k = _choose_folds(label_array.tolist(), folds)
    splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(texts, label_array))
    resolved = resolve_device(device)

    step = 0
    done_progress = 0.0

    def emit(metrics: dict[str, float], progress: float) -> None:
        nonlocal step, done_progress
        step += 1
        done_progress = max(done_progress, min(progress, 1.0))
        if report is not None:
            try:
                report(step, metrics, done_progress)
            except BaseException as exc:  # a cancellation must not be mistaken for a candidate failure
                raise _ReportRaised(exc) from exc

    cards: dict[str, dict[str, Any]] = {}
    try:
        for index, candidate in enumerate(candidates):
            name, source = candidate["name"], candidate["source"]
            cards[name] = _run_candidate(
                name,
                source,
                texts,
                label_array,
                splits,
                cache_dir=Path(cache_dir),
                device=resolved,
                offline=offline,
                positive_label=positive_label,
                seed=seed,
                max_length=max_length,
                pooling=pooling,
                latency_examples=latency_examples,
                batch_size=batch_size,
                emit=emit,
                position=(index, len(candidates)),
            )
        direction = METRIC_DIRECTIONS[metric]
        scored = [(n, c[metric]) for n, c in cards.items() if "error" not in c and c.get(metric) is not None]
        scored.sort(key=lambda item: -item[1] if direction == "higher" else item[1])
        ranking = [n for n, _ in scored]
        emit({"candidates_ok": float(len(ranking))}, 1.0)
    except _ReportRaised as wrapped:
        raise wrapped.original from None

    return {
        "candidates": cards,
        "metric": metric,
        "direction": direction,
        "ranking": ranking,
        "best": ranking[0] if ranking else None,
        "device": describe_device(resolved),
        "folds": k,
        "rows": len(texts),
        "labels": sorted(set(label_array.tolist())),
        "seed": seed,
    }


def _run_candidate(
    name: str,
    source: str,
    texts: list[str],
    labels: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    cache_dir: Path,
    device: torch.device,
    offline: bool,
    positive_label: str | None,
    seed: int,
    max_length: int,
    pooling: str,
    latency_examples: int,
    batch_size: int,
    emit: Callable[[dict[str, float], float], None],
    position: tuple[int, int],
) -> dict[str, Any]:
    """One candidate's scorecard, or {"error", "stage"} when any phase fails (report exceptions excepted)."""
    index, count = position

    def at(phase: str, fraction: float = 1.0) -> float:
        start, end = _PHASES[phase]
        return (index + start + (end - start) * fraction) / count

    card: dict[str, Any] = {"name": name, "source": source}
    meter = _MemoryMeter(device)
    encoder: Encoder | None = None
    phase = "load"
    try:
        started = time.perf_counter()
        encoder = load_encoder(source, device=device, offline=offline)
        card["load_seconds"] = time.perf_counter() - started
        meter.sample()
        emit({"candidate": float(index), "load_seconds": card["load_seconds"]}, at("load"))

        phase = "features"
        started = time.perf_counter()
        features = cached_features(
            encoder,
            texts,
            cache_dir=cache_dir,
            model_key=encoder.model_key,
            split_key="bakeoff-sample",
            pooling=pooling,
            max_length=max_length,
            batch_size=batch_size,
            report=lambda _s, m, p: emit(m, at("features", p)),
        )
        card["feature_seconds"] = time.perf_counter() - started
        card["feature_cache"] = {"path": str(features.path), "sha256": features.sha256, "hit": features.hit}
        meter.sample()

        phase = "probe"
        card.update(_probe_scores(features.tensor.numpy(), labels, splits, positive_label, seed))
        emit({"macro_f1": card["macro_f1"], "accuracy": card["accuracy"]}, at("probe"))

        phase = "latency"
        card.update(
            _speed(encoder, texts, latency_examples=latency_examples, max_length=max_length, pooling=pooling)
        )
        card.update(
            {
                "parameters": encoder.num_parameters(),
                "layers": len(encoder.transformer_layers()),
                "model_bytes": encoder.num_bytes(),
                "embedding_dim": encoder.hidden_size,
                "peak_memory_bytes": meter.peak_bytes(),
                "memory_measure": meter.measure,
                "device": encoder.device_description,
                "pooling": pooling,
                "max_length": max_length,
            }
        )
        emit({"p95_latency_ms": card["p95_latency_ms"]}, at("latency"))
    except _ReportRaised:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken candidate must not sink the bake-off
        card["error"] = f"{type(exc).__name__}: {exc}"
        card["stage"] = phase
        emit({"failed": 1.0}, at("latency"))
    finally:
        del (
            encoder
        )  # refcounting frees a CPU model; CUDA also needs its cached blocks back for the next meter
        if device.type == "cuda":
            gc.collect()
            torch.cuda.empty_cache()
    return card
