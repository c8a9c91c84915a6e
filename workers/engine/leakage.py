"""Play 3: find rows that leak between train, validation and test ("splits are never mixed").

Two kinds of leak are reported for every pair of splits:

* **exact** duplicates after ``normalise`` (case, Unicode compatibility forms, whitespace and punctuation
  do not hide a duplicate);
* **near** duplicates: texts whose character ``shingle``-gram sets have Jaccard similarity >=
  ``near_threshold``. Candidates come from MinHash signatures + LSH banding (so 10k rows per split take
  seconds, not the hours an all-pairs scan would); every candidate is then confirmed with the exact Jaccard
  of the two shingle sets, so MinHash noise can cost a (very unlikely) miss but never a false report.

Everything is deterministic and platform independent: shingles are hashed with a fixed polynomial rolling
hash over Unicode code points followed by the splitmix64 finaliser (no Python ``hash()``), and the MinHash
permutation coefficients are sha256 digests of (seed, permutation number).

``embedding_near_duplicates`` is the semantic counterpart: cosine similarity between encoder embeddings.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SPLIT_ORDER: tuple[str, ...] = ("train", "val", "test")
# LSH banding is chosen so that a pair exactly at the threshold is missed with at most this probability.
MAX_MISS_AT_THRESHOLD = 1e-4
# Candidates whose MinHash estimate is this far below the threshold are dropped before the exact check
# (at J = 0.85 with 64 permutations that is > 5 standard deviations).
ESTIMATE_MARGIN = 0.25
_ESTIMATE_CHUNK = 50_000  # pairs per vectorised estimate (2 x 50k x num_perm x 8 bytes)

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


class _PunctuationTable(dict):
    """A ``str.translate`` table that deletes every Unicode punctuation character (category P*).

    Filled lazily: ``translate`` looks each character up, and ``__missing__`` decides and remembers it.
    """

    def __missing__(self, codepoint: int) -> int | None:
        value = None if unicodedata.category(chr(codepoint)).startswith("P") else codepoint
        self[codepoint] = value
        return value


_DELETE_PUNCTUATION = _PunctuationTable()


def normalise(text: str) -> str:
    """Unicode NFKC, lowercase, punctuation removed (Unicode category P*), whitespace collapsed and trimmed.

    >>> normalise("  Hello,   WORLD!! ")
    'hello world'
    """
    text = unicodedata.normalize("NFKC", str(text)).lower().translate(_DELETE_PUNCTUATION)
    return " ".join(text.split())


# --------------------------------------------------------------------------- stable hashing


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


_POLY = np.uint64(0x100000001B3)  # FNV-64 prime, used as the rolling-hash base


def _shingle_hashes(texts: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character ``k``-gram of every text, concatenated, plus per-text offsets.

    Text ``i`` owns ``hashes[offsets[i]:offsets[i + 1]]`` (in text order, repeats included: MinHash takes
    a minimum and the exact check builds a set, so neither needs them removed). A text shorter than ``k``
    characters has one shingle, the whole text; an empty text has none.
    """
    n = len(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    n_windows = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    offsets = np.concatenate(([0], np.cumsum(n_windows))).astype(np.int64)
    total_windows = int(offsets[-1])
    if total_windows == 0:
        return np.zeros(0, dtype=np.uint64), offsets
    # Code points (+1, so that the zero padding below differs from every real character) of all texts.
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4").astype(np.uint64) + np.uint64(1)
    padded = np.concatenate((cps, np.zeros(k, dtype=np.uint64)))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # Window g of text i starts at starts[i] + (g - offsets[i]).
    pos = np.repeat(starts - offsets[:-1], n_windows) + np.arange(total_windows)
    # Polynomial hash of the k code points at each position; a short text's window is its own length,
    # i.e. zero-padded, and the padding is (deliberately) part of the value.
    acc = np.zeros(total_windows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for m in range(k):
            acc = acc * _POLY + padded[pos + m]
    short = np.nonzero((lengths < k) & (lengths > 0))[0]
    if len(short):
        # Zero the characters that belong to the *next* text: recompute short texts' windows exactly.
        for i in short.tolist():
            value = np.uint64(0)
            with np.errstate(over="ignore"):
                for m in range(k):
                    value = value * _POLY + (padded[starts[i] + m] if m < lengths[i] else np.uint64(0))
            acc[offsets[i]] = value
    return _splitmix64(acc), offsets


def _minhash(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """[n_texts, num_perm] MinHash signatures: min over each text's shingles of (a * h + b) mod 2**64.

    ``a`` (odd) and ``b`` are 64-bit words of sha256(seed, p) for permutation p; texts without shingles
    keep all-ones rows (they are never made candidates).
    """
    digests = [
        hashlib.sha256(f"playbook-minhash\x1f{int(seed)}\x1f{p}".encode()).digest() for p in range(num_perm)
    ]
    a = np.array([int.from_bytes(d[:8], "little") | 1 for d in digests], dtype=np.uint64)
    b = np.array([int.from_bytes(d[8:16], "little") for d in digests], dtype=np.uint64)
    n = len(offsets) - 1
    sig = np.full((n, num_perm), _M64, dtype=np.uint64)
    nonempty = np.nonzero(np.diff(offsets) > 0)[0]
    if len(nonempty) == 0:
        return sig
    seg = offsets[nonempty]
    for p in range(num_perm):  # one 1-D reduceat per permutation is by far the fastest layout
        with np.errstate(over="ignore"):
            vals = hashes * a[p] + b[p]
        sig[nonempty, p] = np.minimum.reduceat(vals, seg)
    return sig


def _banding(num_perm: int, threshold: float) -> tuple[int, int]:
    """(bands, rows per band): the most selective banding that still misses a pair at ``threshold`` with
    probability <= MAX_MISS_AT_THRESHOLD (falls back to one row per band)."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        miss = (1.0 - threshold**rows) ** bands
        if miss <= MAX_MISS_AT_THRESHOLD:
            return bands, rows
    return num_perm, 1


def _lsh_candidates(
    sig: np.ndarray, usable: np.ndarray, bands: int, rows: int, split_mask: np.ndarray, min_estimate: float
) -> np.ndarray:
    """Unique candidate pairs (u < v) as an [m, 2] int64 array: texts sharing a bucket in some band.

    Pairs are dropped as soon as they are found (so near-identical corpora cannot pile up millions) when the
    two texts do not span two splits between them (``split_mask`` holds a bit per split a text occurs in),
    or when their MinHash similarity estimate is below ``min_estimate``.
    """
    ids = np.nonzero(usable)[0]
    if len(ids) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    found: list[np.ndarray] = []
    mult = _splitmix64(np.arange(1, rows + 1, dtype=np.uint64))
    for band in range(bands):
        block = sig[ids, band * rows : (band + 1) * rows]
        with np.errstate(over="ignore"):
            key = _splitmix64((block * mult[None, :]).sum(axis=1, dtype=np.uint64) ^ np.uint64(band))
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        edges = np.nonzero(np.concatenate(([True], sorted_key[1:] != sorted_key[:-1], [True])))[0]
        run_len = np.diff(edges)
        # Every pair inside every bucket, vectorised: for gap d = 1, 2, ..., pair sorted position p with
        # p + d while both lie in the same bucket; positions in buckets smaller than d + 1 drop out.
        run_end = np.repeat(edges[1:], run_len)
        active = np.nonzero(run_len[np.repeat(np.arange(len(run_len)), run_len)] > 1)[0]
        gap = 1
        while len(active):
            active = active[active + gap < run_end[active]]
            if len(active):
                pairs = np.stack((ids[order[active]], ids[order[active + gap]]), axis=1)
                found.append(_worth_checking(pairs, sig, split_mask, min_estimate))
            gap += 1
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found).astype(np.int64), axis=1)
    n = np.int64(len(usable))
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack((codes // n, codes % n), axis=1)


def _worth_checking(
    pairs: np.ndarray, sig: np.ndarray, split_mask: np.ndarray, min_estimate: float
) -> np.ndarray:
    union = split_mask[pairs[:, 0]] | split_mask[pairs[:, 1]]
    pairs = pairs[(union & (union - 1)) != 0]  # at least two bits: the texts span two splits
    kept = []
    for start in range(0, len(pairs), _ESTIMATE_CHUNK):
        chunk = pairs[start : start + _ESTIMATE_CHUNK]
        estimate = (sig[chunk[:, 0]] == sig[chunk[:, 1]]).mean(axis=1)
        kept.append(chunk[estimate >= min_estimate])
    return np.concatenate(kept) if kept else pairs


def _ordered_splits(splits: Mapping[str, Sequence[str]]) -> list[str]:
    known = [name for name in SPLIT_ORDER if name in splits]
    return known + sorted(name for name in splits if name not in SPLIT_ORDER)


def scan_leakage(
    splits: Mapping[str, Sequence[str]],
    *,
    near_threshold: float = 0.85,
    num_perm: int = 64,
    shingle: int = 5,
    seed: int = 0,
    max_examples: int = 10,
) -> dict[str, Any]:
    """Exact and near duplicates between every pair of splits.

    ``splits`` maps a split name to its texts, e.g. {"train": [...], "val": [...], "test": [...]}. Splits are
    ordered train, val, test (other names after, sorted) and pairs are named "earlier-later" ("train-val",
    "train-test", "val-test").

    For each pair ``a-b``, ``exact[a-b]`` counts the rows of the later split ``b`` whose normalised text also
    occurs in ``a``, and ``near[a-b]`` counts the other rows of ``b`` that have a near duplicate in ``a``
    (character-shingle Jaccard >= ``near_threshold``, confirmed exactly). Duplicates *within* one split are
    not leakage and are not counted. Rows that normalise to the empty string are ignored.

    Returns {"exact": {pair: n}, "near": {pair: n}, "examples": [{"kind", "pair", "a", "b", "similarity",
    "a_index", "b_index"}], "total_exact", "total_near", "rows": {split: n}, "rate", "params"}, where
    ``rate`` = leaked evaluation rows / evaluation rows: a row of a later split (val, test) is leaked when it
    has an exact or near duplicate in any earlier split (val in train; test in train or val). ``examples``
    holds up to ``max_examples`` exact and up to ``max_examples`` near examples (highest similarity first).
    """
    if not 0.0 < near_threshold <= 1.0:
        raise ValueError(f"near_threshold must be in (0, 1], got {near_threshold}")
    if shingle < 1:
        raise ValueError(f"shingle must be >= 1, got {shingle}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    names = _ordered_splits(splits)
    pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    pair_key = {pair: f"{pair[0]}-{pair[1]}" for pair in pairs}

    # Unique normalised texts, and which rows of which split carry each one.
    uid_of: dict[str, int] = {}
    uniques: list[str] = []
    rows_of: list[dict[str, list[int]]] = []
    row_uid: dict[str, list[int]] = {}
    for name in names:
        ids = []
        for index, text in enumerate(splits[name]):
            norm = normalise(text)
            if not norm:
                ids.append(-1)
                continue
            uid = uid_of.get(norm)
            if uid is None:
                uid = uid_of[norm] = len(uniques)
                uniques.append(norm)
                rows_of.append({})
            rows_of[uid].setdefault(name, []).append(index)
            ids.append(uid)
        row_uid[name] = ids
    split_bit = {name: 1 << i for i, name in enumerate(names)}
    mask = np.zeros(len(uniques), dtype=np.int64)
    for uid, where in enumerate(rows_of):
        for name in where:
            mask[uid] |= split_bit[name]

    # Near-duplicate pairs of distinct unique texts: MinHash + LSH, estimate filter, exact Jaccard.
    bands, rows_per_band = _banding(num_perm, near_threshold)
    near_of: dict[int, list[tuple[int, float]]] = {}
    if len(uniques) >= 2:
        hashes, offsets = _shingle_hashes(uniques, shingle)
        sig = _minhash(hashes, offsets, num_perm, seed)
        usable = np.diff(offsets) > 0
        cand = _lsh_candidates(
            sig, usable, bands, rows_per_band, mask, min_estimate=near_threshold - ESTIMATE_MARGIN
        )
        cache: dict[int, set[int]] = {}

        def shingles(uid: int) -> set[int]:
            got = cache.get(uid)
            if got is None:
                got = cache[uid] = set(hashes[offsets[uid] : offsets[uid + 1]].tolist())
            return got

        for u, v in cand.tolist():
            su, sv = shingles(u), shingles(v)
            inter = len(su & sv)
            jaccard = inter / (len(su) + len(sv) - inter)
            if jaccard >= near_threshold:
                near_of.setdefault(u, []).append((v, jaccard))
                near_of.setdefault(v, []).append((u, jaccard))

    exact = {pair_key[p]: 0 for p in pairs}
    near = {pair_key[p]: 0 for p in pairs}
    exact_examples: list[dict[str, Any]] = []
    near_examples: list[dict[str, Any]] = []
    leaked: dict[str, set[int]] = {name: set() for name in names}
    for a, b in pairs:
        key = pair_key[(a, b)]
        for index, uid in enumerate(row_uid[b]):
            if uid < 0:
                continue
            in_a = rows_of[uid].get(a)
            if in_a:
                exact[key] += 1
                leaked[b].add(index)
                exact_examples.append(
                    {
                        "kind": "exact",
                        "pair": key,
                        "a": splits[a][in_a[0]],
                        "b": splits[b][index],
                        "similarity": 1.0,
                        "a_index": in_a[0],
                        "b_index": index,
                    }
                )
                continue
            best: tuple[float, int] | None = None
            for other, jaccard in near_of.get(uid, ()):
                other_rows = rows_of[other].get(a)
                if other_rows and (best is None or (jaccard, -other_rows[0]) > (best[0], -best[1])):
                    best = (jaccard, other_rows[0])
            if best is not None:
                near[key] += 1
                leaked[b].add(index)
                near_examples.append(
                    {
                        "kind": "near",
                        "pair": key,
                        "a": splits[a][best[1]],
                        "b": splits[b][index],
                        "similarity": round(best[0], 4),
                        "a_index": best[1],
                        "b_index": index,
                    }
                )
    near_examples.sort(key=lambda e: -e["similarity"])  # stable: pair order, then row order on ties
    evaluation = names[1:]
    evaluation_rows = sum(len(splits[name]) for name in evaluation)
    leaked_rows = sum(len(leaked[name]) for name in evaluation)
    return {
        "exact": exact,
        "near": near,
        "examples": exact_examples[:max_examples] + near_examples[:max_examples],
        "total_exact": sum(exact.values()),
        "total_near": sum(near.values()),
        "rows": {name: len(splits[name]) for name in names},
        "rate": leaked_rows / evaluation_rows if evaluation_rows else 0.0,
        "params": {
            "near_threshold": near_threshold,
            "num_perm": num_perm,
            "shingle": shingle,
            "seed": seed,
            "bands": bands,
            "rows_per_band": rows_per_band,
        },
    }


# --------------------------------------------------------------------------- embeddings


def _as_matrix(vecs: Any) -> np.ndarray:
    if hasattr(vecs, "detach"):  # torch.Tensor, without importing torch here
        vecs = vecs.detach().cpu().double().numpy()
    matrix = np.asarray(vecs, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D [rows, dims] array, got shape {matrix.shape}")
    return matrix


def _l2_normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def embedding_near_duplicates(
    train_vecs: Any, other_vecs: Any, *, threshold: float = 0.95, chunk_rows: int | None = None
) -> list[tuple[int, int, float]]:
    """Pairs (train_index, other_index, cosine) with cosine similarity >= ``threshold``.

    Accepts numpy arrays or torch tensors of shape [rows, dims]; rows are L2-normalised (an all-zero row
    matches nothing). The similarity matrix is computed in chunks of ``other`` rows (about 8M cells each),
    so memory stays bounded. Sorted by similarity descending, then train index, then other index.
    """
    train = _l2_normalise(_as_matrix(train_vecs))
    other = _l2_normalise(_as_matrix(other_vecs))
    if len(train) == 0 or len(other) == 0:
        return []
    if train.shape[1] != other.shape[1]:
        raise ValueError(f"dimension mismatch: train has {train.shape[1]}, other has {other.shape[1]}")
    step = chunk_rows or max(1, 8_000_000 // max(1, len(train)))
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(other), step):
        sims = other[start : start + step] @ train.T  # [chunk, n_train]
        oi, ti = np.nonzero(sims >= threshold)
        found.extend(
            (int(t), int(o) + start, float(min(1.0, sims[o, t]))) for o, t in zip(oi.tolist(), ti.tolist())
        )
    found.sort(key=lambda item: (-item[2], item[0], item[1]))
    return found


__all__ = ["embedding_near_duplicates", "normalise", "scan_leakage"]
