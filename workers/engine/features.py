"""Content-addressed cache of frozen-encoder features, so a split is embedded once per (model, recipe)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from workers.engine.data import ReportFn
from workers.engine.encoders import Encoder


@dataclass(frozen=True)
class CachedFeatures:
    """Features of one split: cache file, its sha256, the float32 tensor, and whether it was a cache hit."""

    path: Path
    sha256: str
    tensor: torch.Tensor
    hit: bool


def texts_sha256(texts: Sequence[str]) -> str:
    """sha256 of an ordered list of texts (JSON-encoded, so boundaries between texts are unambiguous)."""
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()


def feature_cache_key(
    *, model_key: str, split_key: str, texts: Sequence[str], pooling: str, max_length: int
) -> str:
    """sha256 over (model_key, split_key, sha256 of the texts, pooling, max_length)."""
    parts = [model_key, split_key, texts_sha256(texts), pooling, int(max_length)]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_torch_save(obj: object, path: Path) -> str:
    """torch.save ``obj`` to ``path`` via a same-directory temp file + os.replace; return the file's sha256.

    Streams to disk (no in-memory copy of large state dicts); on any error, including KeyboardInterrupt,
    the temp file is removed and ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        sha = file_sha256(Path(tmp_name))
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return sha


def _load_cached(path: Path, rows: int) -> torch.Tensor | None:
    """The cached tensor, or None when the file is unreadable or has the wrong number of rows."""
    try:
        tensor = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a corrupt cache entry is recomputed, never trusted
        return None
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 2 or tensor.shape[0] != rows:
        return None
    return tensor


def cached_features(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    cache_dir: Path,
    model_key: str,
    split_key: str,
    pooling: str,
    max_length: int,
    batch_size: int = 32,
    report: ReportFn | None = None,
) -> CachedFeatures:
    """Features of ``texts`` from ``cache_dir`` if present (no forward pass), else encoded and stored.

    The file is ``<cache_dir>/<key>.pt`` with key = ``feature_cache_key(...)``; it is written atomically
    only after encoding finished, so a cancelled run (``report`` raising) leaves no file.
    ``report(step, {"encoded": n}, progress)`` is called per batch and once at the end.
    """
    cache_dir = Path(cache_dir)
    key = feature_cache_key(
        model_key=model_key, split_key=split_key, texts=texts, pooling=pooling, max_length=max_length
    )
    path = cache_dir / f"{key}.pt"
    if path.exists():
        tensor = _load_cached(path, len(texts))
        if tensor is not None:
            if report is not None:
                report(1, {"encoded": float(len(texts)), "cache_hit": 1.0}, 1.0)
            return CachedFeatures(path=path, sha256=file_sha256(path), tensor=tensor, hit=True)

    steps = 0

    def on_batch(done: int, total: int) -> None:
        nonlocal steps
        steps += 1
        if report is not None:
            # Reserve the last bit of progress for the write, so 1.0 means "on disk".
            report(steps, {"encoded": float(done)}, 0.99 * done / max(total, 1))

    tensor = (
        encoder.encode(
            texts, batch_size=batch_size, max_length=max_length, pooling=pooling, on_batch=on_batch
        )
        .float()
        .contiguous()
    )
    sha = atomic_torch_save(tensor, path)
    if report is not None:
        report(steps + 1, {"encoded": float(len(texts)), "cache_hit": 0.0}, 1.0)
    return CachedFeatures(path=path, sha256=sha, tensor=tensor, hit=False)
