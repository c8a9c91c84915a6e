"""Spreads for the figures Plays 1 and 2 decide on: cross-validation folds and repeated latency timings.

Two kinds of spread, each with a plain rule for "is this difference noise?":

* fold figures: a metric scored on each cross-validation fold, summarised as mean ± sample standard deviation
  (and the fold range). Two fold-scored figures, or a figure and a fixed target, differ *within noise* when
  the difference is no larger than the larger standard deviation involved.
* latency: after warm-up, the same fixed batch is timed ``repeats`` times; each repeat gives milliseconds per
  item. The median and the interquartile range (25th–75th percentile) summarise the repeats. Two latencies
  differ within noise when their medians are no further apart than the wider of the two ranges.

Everything here is pure (no Django, no torch); the timing clock can be injected so tests are deterministic.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from workers.engine.metrics import classification_metrics

FOLD_METRICS = ("accuracy", "macro_f1", "false_positive_rate")
LATENCY_REPEATS = 7
LATENCY_WARMUP = 1
LATENCY_BATCH = 8


def fold_spread(values: Sequence[float | None]) -> dict[str, Any] | None:
    """Mean, sample standard deviation (0 with one value), range and count of per-fold values.

    None entries (a fold where the metric is undefined) are left out; None when no value remains."""
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not kept:
        return None
    array = np.asarray(kept)
    return {
        "mean": float(array.mean()),
        "sd": float(array.std(ddof=1)) if len(kept) > 1 else 0.0,
        "min": float(array.min()),
        "max": float(array.max()),
        "n": len(kept),
        "values": kept,
    }


def fold_scores(
    labels: Sequence[str],
    predictions: Sequence[str],
    splits: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    positive_label: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Each of FOLD_METRICS scored on every fold's held-out rows of ``predictions`` (out-of-fold predictions,
    or predictions of a model that was never trained on these rows), as ``fold_spread`` summaries."""
    per_metric: dict[str, list[float | None]] = {name: [] for name in FOLD_METRICS}
    for _train, test_idx in splits:
        truth = [labels[i] for i in test_idx]
        scored = classification_metrics(truth, [predictions[i] for i in test_idx], positive_label=positive_label)
        for name in FOLD_METRICS:
            per_metric[name].append(scored.get(name))
    return {name: spread for name, values in per_metric.items() if (spread := fold_spread(values)) is not None}


def within_noise(a: dict[str, Any] | None, b: dict[str, Any] | float | None) -> bool | None:
    """Whether two fold spreads (or a spread and a fixed number such as a target) differ by no more than the
    larger standard deviation involved. None when either side has no spread to judge by."""
    if not a or b is None:
        return None
    if isinstance(b, dict):
        return abs(a["mean"] - b["mean"]) <= max(a["sd"], b["sd"])
    return abs(a["mean"] - float(b)) <= a["sd"]


def latency_stats(per_item_ms: Sequence[float]) -> dict[str, Any]:
    """Median, interquartile range and 10th–90th percentiles of repeated per-item timings (ms)."""
    if not per_item_ms:
        raise ValueError("latency_stats needs at least one timing")
    p10, p25, p50, p75, p90 = np.percentile(np.asarray(per_item_ms, dtype=float), [10, 25, 50, 75, 90])
    return {
        "median_ms": float(p50),
        "p25_ms": float(p25),
        "p75_ms": float(p75),
        "p10_ms": float(p10),
        "p90_ms": float(p90),
        "repeats": len(per_item_ms),
    }


def measure_latency(
    predict_one: Callable[[str], Any],
    texts: Sequence[str],
    *,
    batch: int = LATENCY_BATCH,
    repeats: int = LATENCY_REPEATS,
    warmup: int = LATENCY_WARMUP,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Time ``predict_one`` one item at a time (as a request is served) on a fixed batch of ``texts``.

    ``warmup`` passes over the batch are not timed; then ``repeats`` passes are, each giving the mean
    milliseconds per item of that pass. Returns ``latency_stats`` of the passes plus ``batch``, ``warmup``
    and the per-call ``p50_latency_ms`` / ``p95_latency_ms`` over every timed call (for budgets)."""
    if repeats < 5:
        raise ValueError(f"repeats must be at least 5 to give a spread, got {repeats}")
    if not texts:
        raise ValueError("measure_latency needs at least one text")
    fixed = [texts[i % len(texts)] for i in range(max(batch, 1))]
    for _ in range(warmup):
        for text in fixed:
            predict_one(text)
    per_pass, per_call = [], []
    for _ in range(repeats):
        pass_ms = 0.0
        for text in fixed:
            start = clock()
            predict_one(text)
            elapsed = (clock() - start) * 1000.0
            per_call.append(elapsed)
            pass_ms += elapsed
        per_pass.append(pass_ms / len(fixed))
    p50, p95 = np.percentile(per_call, [50, 95])
    return {**latency_stats(per_pass), "batch": len(fixed), "warmup": warmup,
            "p50_latency_ms": float(p50), "p95_latency_ms": float(p95)}


def latency_noise_ms(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The wider interquartile range of two latency summaries: differences of medians under it are noise."""
    return max(a["p75_ms"] - a["p25_ms"], b["p75_ms"] - b["p25_ms"])


def compare_latency(
    a: dict[str, Any], b: dict[str, Any], *, a_size: float | None = None, b_size: float | None = None
) -> dict[str, Any]:
    """Compare two latency summaries (``measure_latency`` results).

    Returns the difference of medians (a − b, ms per item), the noise floor (``latency_noise_ms``), whether the
    difference is within it, and ``unexpected``: True when the smaller model (``a_size``/``b_size``: parameter
    counts or layers) measured slower, by any amount, so the page can say why that may be."""
    difference = a["median_ms"] - b["median_ms"]
    noise = latency_noise_ms(a, b)
    within = abs(difference) <= noise
    unexpected = False
    if a_size is not None and b_size is not None and a_size != b_size:
        smaller_is_a = a_size < b_size
        smaller_slower = difference > 0 if smaller_is_a else difference < 0
        unexpected = smaller_slower
    return {"difference_ms": difference, "noise_ms": noise, "within_noise": within, "unexpected": unexpected}
