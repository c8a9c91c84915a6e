"""A job's curves as the progress fragment sends them: only what the browser has not seen yet, and light.

The stored metric points are never thinned; what is drawn is. The first render carries each charted series
downsampled to at most ``CAP`` points (largest-triangle-three-buckets, which keeps the peaks and dips a
reader looks for), plus a cursor: the highest metric-point id sent. Each poll then asks for the points
after that cursor only. Point ids grow as a worker reports (one worker reports a job's points in order),
so a validation point reported later for an earlier step is still new to the cursor.

The training loss also gets an exponential moving average, computed here on every stored point before
thinning, so the smoothed line does not depend on which points survived; the browser continues it from
the last smoothed value for the points polls bring (``SMOOTHING``, the same weight on both sides).
"""
from __future__ import annotations

import math

from apps.jobs.models import Job

CAP = 500  # points per series drawn, whatever the number stored
SMOOTHING = 0.8  # weight of the previous smoothed value: ema = w * ema + (1 - w) * value
LOSS = "train_loss"


def charted(name: str) -> bool:
    """The series a training chart draws: the training loss and the validation metrics (not val_metric, which
    repeats the committed one under another name)."""
    return name == LOSS or (name.startswith("val_") and name != "val_metric")


def series_name(split: str, name: str) -> str:
    return name if split == "train" else f"{split}/{name}"


def ema(values: list[float], *, weight: float = SMOOTHING, start: float | None = None) -> list[float]:
    """Exponential moving average of ``values``; ``start`` continues an earlier run of it (the last smoothed
    value), else the first value starts it."""
    if not 0 <= weight < 1:
        raise ValueError("the smoothing weight must be in [0, 1)")
    out, current = [], start
    for value in values:
        current = value if current is None else weight * current + (1 - weight) * value
        out.append(current)
    return out


def downsample(points: list[tuple[float, float]], cap: int = CAP) -> list[tuple[float, float]]:
    """At most ``cap`` of ``points`` (x-sorted (x, y) pairs), by largest-triangle-three-buckets: the first
    and last points stay, and each bucket in between keeps the point that spans the largest triangle with
    the point kept before it and the mean of the next bucket."""
    n = len(points)
    if cap < 3:
        raise ValueError("downsampling keeps at least 3 points")
    if n <= cap:
        return list(points)
    kept = [points[0]]
    size = (n - 2) / (cap - 2)
    previous = points[0]
    for bucket in range(cap - 2):
        start, end = int(math.floor(bucket * size)) + 1, int(math.floor((bucket + 1) * size)) + 1
        nxt_start, nxt_end = end, min(int(math.floor((bucket + 2) * size)) + 1, n)
        if nxt_start >= nxt_end:  # the last bucket looks ahead to the last point
            nxt_start, nxt_end = n - 1, n
        following = points[nxt_start:nxt_end]
        mean_x = sum(p[0] for p in following) / len(following)
        mean_y = sum(p[1] for p in following) / len(following)
        best, best_area = None, -1.0
        for point in points[start:end]:
            area = abs((previous[0] - mean_x) * (point[1] - previous[1])
                       - (previous[0] - point[0]) * (mean_y - previous[1]))
            if area > best_area:
                best, best_area = point, area
        kept.append(best)
        previous = best
    kept.append(points[-1])
    return kept


def _light(points) -> list[list[float]]:
    """Points as JSON pairs, values to 4 significant digits (what a chart can show; halves the bytes)."""
    return [[x, float(f"{y:.4g}")] for x, y in points]


def job_curves(job: Job, *, after: int | None = None, cap: int = CAP) -> dict:
    """What the progress fragment sends of ``job``'s curves: ``{"cursor", "series": {name: [[x, y], ...]},
    "smoothed": {...}, "history": bool}``. Without ``after`` (the first render) every charted series comes
    downsampled; with it, only the points stored after that cursor (downsampled too, should a poll ever
    bring more than ``cap``). ``cursor`` is the highest point id sent, or ``after`` when nothing is new."""
    points = job.metrics.order_by("step", "id")
    if after is not None:
        points = points.filter(id__gt=after)
    raw: dict[str, list[tuple[float, float]]] = {}
    cursor = after or 0
    for pk, step, split, name, value in points.values_list("id", "step", "split", "name", "value"):
        cursor = max(cursor, pk)
        if charted(name):
            raw.setdefault(series_name(split, name), []).append((step, value))
    smoothed = {}
    if LOSS in raw and after is None:
        loss = raw[LOSS]
        smoothed[LOSS] = _light(downsample(list(zip((p[0] for p in loss), ema([p[1] for p in loss]))), cap))
    return {
        "cursor": cursor,
        "history": after is None,
        "smoothing": SMOOTHING,
        "series": {name: _light(downsample(values, cap)) for name, values in raw.items()},
        "smoothed": smoothed,
    }


def parse_cursor(value: str | None) -> int | None:
    """The ``after`` query parameter: a non-negative point id, or None (no cursor, or one that is not a number:
    the fragment then resends the history, which is always safe)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
