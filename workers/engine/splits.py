"""Play 3: fixed, stratified train/validation/test splits and a fingerprint for each split.

The split must be reproducible on any machine and any Python version, because the gate records it and every
later play trusts it. So nothing here depends on ``hash()`` or on set/dict iteration order:

* labels are visited in sorted order;
* each label's rows are put in a random-looking order keyed by sha256(seed, row index): unlike
  ``numpy.random.Generator`` methods, whose streams numpy may change between releases (NEP 19), a sha256
  order is the same everywhere, forever;
* each class is cut into train/val/test by the largest-remainder method, then topped up so that every split
  holds at least one row of every class (a class needs >= 3 rows for that, else ValueError).

``split_sha256`` hashes a split's rows in the same canonical form as dataset ingestion (one JSON object per
line, sorted keys, ``ensure_ascii=False``, "\\n"-terminated), so a changed row changes the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

SPLIT_NAMES: tuple[str, str, str] = ("train", "val", "test")
MIN_CLASS_ROWS = len(SPLIT_NAMES)
RATIO_TOLERANCE = 1e-6


def _check_ratios(train: float, val: float, test: float) -> tuple[float, float, float]:
    ratios = (train, val, test)
    for name, value in zip(SPLIT_NAMES, ratios):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"split ratio {name}={value!r} is not a finite number")
        if value <= 0:
            raise ValueError(f"split ratio {name}={value!r} must be positive (every split needs rows)")
    total = sum(ratios)
    if abs(total - 1.0) > RATIO_TOLERANCE:
        raise ValueError(
            f"split ratios must sum to 1, got train={train} + val={val} + test={test} = {total:.6g}"
        )
    return float(train), float(val), float(test)


def _order_key(seed: int, index: int) -> bytes:
    """Sort key that shuffles rows: sha256 of the seed and the row index (stable on every platform)."""
    return hashlib.sha256(f"playbook-split\x1f{int(seed)}\x1f{int(index)}".encode()).digest()


def _allocate(n: int, ratios: Sequence[float]) -> list[int]:
    """Largest-remainder counts for ``n`` rows, then at least 1 per split (requires n >= len(ratios)).

    Ties in the fractional part go to the earlier split (train, then val, then test). When a split got 0,
    one row is moved to it from the split that is most over its exact quota and still has more than one row.
    """
    quotas = [n * r for r in ratios]
    counts = [math.floor(q) for q in quotas]
    left = n - sum(counts)
    order = sorted(range(len(ratios)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:left]:
        counts[i] += 1
    for i in range(len(counts)):
        if counts[i] == 0:
            donors = [j for j in range(len(counts)) if counts[j] > 1]
            donor = max(donors, key=lambda j: (counts[j] - quotas[j], -j))
            counts[donor] -= 1
            counts[i] += 1
    return counts


def stratified_split(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    train: float,
    val: float,
    test: float,
    seed: int,
) -> dict[str, list[int]]:
    """Row indices per split, {"train": [...], "val": [...], "test": [...]}, each list ascending.

    Stratified per label: every class is divided in the given ratios (each split within one row of its exact
    quota, except where a class is so small that the one-row-per-split floor moves a row). Every index
    appears in exactly one split. Deterministic for the same inputs and seed.

    Raises ValueError when the ratios are not positive or do not sum to 1 (within 1e-6), when texts and
    labels differ in length, when there are no rows, or when a class has fewer than 3 rows.
    """
    ratios = _check_ratios(train, val, test)
    if len(texts) != len(labels):
        raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
    if not labels:
        raise ValueError("cannot split an empty dataset")

    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    classes = sorted(by_label, key=lambda label: (str(label), repr(label)))

    too_small = [label for label in classes if len(by_label[label]) < MIN_CLASS_ROWS]
    if too_small:
        detail = ", ".join(f"{label!r} ({len(by_label[label])} row(s))" for label in too_small)
        raise ValueError(
            f"every class needs at least {MIN_CLASS_ROWS} rows so that train, val and test each get one; "
            f"too small: {detail}"
        )

    out: dict[str, list[int]] = {name: [] for name in SPLIT_NAMES}
    for label in classes:
        indices = by_label[label]
        shuffled = sorted(indices, key=lambda index: _order_key(seed, index))
        counts = _allocate(len(indices), ratios)
        start = 0
        for name, count in zip(SPLIT_NAMES, counts):
            out[name].extend(shuffled[start : start + count])
            start += count
    return {name: sorted(out[name]) for name in SPLIT_NAMES}


def canonical_jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    """Rows as canonical JSON lines: sorted keys, ensure_ascii=False, each line "\\n"-terminated, UTF-8."""
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode("utf-8")


def split_sha256(rows: Sequence[dict[str, Any]]) -> str:
    """Hex sha256 of a split's rows (pass them in index order) in canonical JSON-lines form."""
    return hashlib.sha256(canonical_jsonl(rows)).hexdigest()


GOLDEN = "golden"
CARRIED_ORDER: tuple[str, ...] = ("train", "val", "test", GOLDEN)


def extend_split(
    previous: dict[str, Sequence[str]],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    train: float,
    val: float,
    test: float,
    seed: int,
) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Split a newer version of a dataset without reshuffling the rows an earlier split set already holds.

    ``previous`` maps each earlier split's name ("train", "val", "test" and, after a first retrain,
    "golden") to its texts. A row whose text the earlier splits held keeps its place: train stays train,
    val stays val, and the earlier test and golden rows together become the ``golden`` split. Copies are
    matched one for one (a text held twice keeps both places); a further copy of a held text follows its
    last place, so no text crosses from an evaluation split into training. Only the remaining (new) rows
    are split, stratified by label in the given ratios with the given seed; their test share is the new
    ``test`` split. A class with fewer than 3 new rows cannot be stratified: such classes are pooled and
    split together, and when even the pool has fewer than 3 rows they go to train; both are reported in
    ``warnings``, never raised.

    Returns ({"train", "val", "test", "golden": ascending row indices}, {"carried": {split: n}, "new":
    {split: n}, "warnings": [...]}). Raises ValueError on bad ratios or fewer than 3 new rows (a new test
    slice needs rows)."""
    _check_ratios(train, val, test)
    if len(texts) != len(labels):
        raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
    places: dict[str, list[str]] = {}
    for name in CARRIED_ORDER:
        target = GOLDEN if name in ("test", GOLDEN) else name
        for text in previous.get(name, ()):
            places.setdefault(text, []).append(target)
    out: dict[str, list[int]] = {name: [] for name in (*SPLIT_NAMES, GOLDEN)}
    carried = {"train": 0, "val": 0, GOLDEN: 0}
    fresh: list[int] = []
    last: dict[str, str] = {}
    for index, text in enumerate(texts):
        queue = places.get(text)
        if queue:
            last[text] = queue.pop(0)
        if text in last and (queue is not None):
            out[last[text]].append(index)
            carried[last[text]] += 1
        else:
            fresh.append(index)
    if len(fresh) < MIN_CLASS_ROWS:
        raise ValueError(f"only {len(fresh)} row(s) are new since the earlier split set: a new test slice "
                         f"needs at least {MIN_CLASS_ROWS} new rows")
    warnings: list[str] = []
    by_label: dict[str, list[int]] = {}
    for index in fresh:
        by_label.setdefault(labels[index], []).append(index)
    small = sorted((label for label, rows in by_label.items() if len(rows) < MIN_CLASS_ROWS), key=str)
    pooled = [index for label in small for index in by_label[label]]
    groups = {str(label): rows for label, rows in by_label.items() if label not in small}
    if small:
        names = ", ".join(f"{label!r} ({len(by_label[label])})" for label in small)
        if len(pooled) >= MIN_CLASS_ROWS:
            groups["\x00pooled"] = pooled
            warnings.append(f"too few new rows to stratify class(es) {names}: they were split together, "
                            "without stratification")
        else:
            out["train"].extend(pooled)
            warnings.append(f"too few new rows to split class(es) {names}: they went to train")
    if groups:
        order = [index for rows in groups.values() for index in rows]
        keys = [name for name, rows in groups.items() for _ in rows]
        parts = stratified_split([texts[i] for i in order], keys, train=train, val=val, test=test, seed=seed)
        for name, positions in parts.items():
            out[name].extend(order[p] for p in positions)
    new = {name: len(out[name]) - carried.get(name, 0) for name in SPLIT_NAMES}
    return ({name: sorted(rows) for name, rows in out.items()},
            {"carried": carried, "new": new, "warnings": warnings})
