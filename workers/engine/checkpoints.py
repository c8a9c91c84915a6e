"""Play 4 checkpoints in a form serving stacks load, with no pickles: a directory of safetensors and JSON.

Layout of a checkpoint directory::

    config.json, model.safetensors   the encoder, as ``save_pretrained`` writes it (AutoModel loads it)
    tokenizer.json, tokenizer_config.json, vocab.txt, ...   the tokenizer, as ``save_pretrained`` writes it
    head.safetensors                 the classification head's weights (out.weight, out.bias[, hidden.*])
    playbook.json                    label names, head config, pooling, max_length, metric, recipe, stages
    manifest.json                    {"format", "files": {name: {"sha256", "bytes"}}} for every file above

The checkpoint's hash is the sha256 of ``manifest.json``'s bytes; since the manifest lists every other
file's sha256, that one hash pins the whole directory. Paths handed around (``checkpoint_path``) point at
the manifest file, so code that hashes "the checkpoint file" (``file_sha256(path)``) gets that same hash;
``checkpoint_directory(path)`` is the folder a serving stack loads. ``load_checkpoint`` verifies the
manifest against the expected hash and every file against the manifest (and refuses unlisted files)
before anything is deserialised. Nothing here calls torch.save or torch.load.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer

from workers.engine.encoders import Encoder, resolve_device
from workers.engine.features import file_sha256
from workers.engine.heads import ClassifierHead

CHECKPOINT_FORMAT = "playbook.checkpoint/2"
MANIFEST = "manifest.json"
PLAYBOOK_FILE = "playbook.json"
HEAD_FILE = "head.safetensors"
# Suffixes a checkpoint may contain: none of them is a pickle (".model" is a sentencepiece protobuf).
ALLOWED_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".merges")


def checkpoint_directory(path: Path) -> Path:
    """The checkpoint folder for ``path`` (the folder itself or its manifest.json)."""
    path = Path(path)
    return path.parent if path.name == MANIFEST else path


def _jsonable(value: Any) -> Any:
    """``value`` with NaN/inf floats as None and tuples as lists, so it is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _save_model(encoder: Encoder, directory: Path) -> None:
    kwargs: dict[str, Any] = {}
    if "safe_serialization" in inspect.signature(encoder.model.save_pretrained).parameters:
        kwargs["safe_serialization"] = True  # transformers 4.x; 5.x writes safetensors only
    encoder.model.save_pretrained(str(directory), **kwargs)
    encoder.tokenizer.save_pretrained(str(directory))


def save_checkpoint(
    checkpoint_dir: Path,
    name: str,
    *,
    encoder: Encoder,
    head_state: dict[str, torch.Tensor],
    head_config: dict[str, Any],
    label_names: Sequence[str],
    meta: dict[str, Any],
) -> tuple[Path, str]:
    """Write ``checkpoint_dir/name/`` atomically (built in a temporary sibling, then renamed into place;
    an older checkpoint of that name is replaced). Returns (path of its manifest.json, checkpoint sha256).

    ``meta`` (recipe, metric, stages, ...) goes into playbook.json with the label names and head config.
    """
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir / name
    tmp = Path(tempfile.mkdtemp(dir=checkpoint_dir, prefix=f".{name}.", suffix=".tmp"))
    try:
        _save_model(encoder, tmp)
        state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in head_state.items()}
        save_file(state, str(tmp / HEAD_FILE), metadata={"format": "pt"})
        playbook = {
            "format": CHECKPOINT_FORMAT,
            "label_names": list(label_names),
            "id2label": {str(i): label for i, label in enumerate(label_names)},
            "head": dict(head_config),
            "source": encoder.source,
            **meta,
        }
        (tmp / PLAYBOOK_FILE).write_text(json.dumps(_jsonable(playbook), indent=1, sort_keys=True, allow_nan=False))
        files = {}
        for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
            rel = path.relative_to(tmp).as_posix()
            if not rel.endswith(ALLOWED_SUFFIXES):
                raise ValueError(f"refusing to checkpoint {rel}: not a JSON, safetensors or text file")
            files[rel] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
        manifest = json.dumps({"format": CHECKPOINT_FORMAT, "files": files}, indent=1, sort_keys=True).encode()
        (tmp / MANIFEST).write_bytes(manifest)
        for path in tmp.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        if final.exists():
            old = checkpoint_dir / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
        raise
    return final / MANIFEST, hashlib.sha256(manifest).hexdigest()


def verify_checkpoint(path: Path, expected_sha256: str | None = None) -> tuple[Path, str, dict[str, Any]]:
    """Check a checkpoint without deserialising any weights: (directory, sha256, manifest).

    Raises ValueError when the manifest's sha256 differs from ``expected_sha256``, a listed file is missing
    or altered (the message names it), or the directory holds a file the manifest does not list.
    """
    directory = checkpoint_directory(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ValueError(f"{directory} is not a Playbook checkpoint (no {MANIFEST})")
    raw = manifest_path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if expected_sha256 is not None and sha != expected_sha256:
        raise ValueError(f"checkpoint {directory}: {MANIFEST} has sha256 {sha}, expected {expected_sha256}")
    manifest = json.loads(raw)
    if manifest.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{directory} is not a {CHECKPOINT_FORMAT} checkpoint")
    listed = manifest["files"]
    for rel, entry in listed.items():
        file = directory / rel
        if not file.is_file():
            raise ValueError(f"checkpoint {directory}: {rel} is missing")
        if file_sha256(file) != entry["sha256"]:
            raise ValueError(f"checkpoint {directory}: {rel} was altered (sha256 differs from the manifest)")
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    extra = sorted(present - set(listed) - {MANIFEST})
    if extra:
        raise ValueError(f"checkpoint {directory}: unlisted file(s) {extra}")
    return directory, sha, manifest


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor names, dtypes, shapes); ValueError if it is not one."""
    with open(path, "rb") as handle:
        size_bytes = handle.read(8)
        if len(size_bytes) != 8:
            raise ValueError(f"{path} is not a safetensors file")
        (size,) = struct.unpack("<Q", size_bytes)
        if size > 100 * 2**20:
            raise ValueError(f"{path} is not a safetensors file")
        try:
            return json.loads(handle.read(size))
        except ValueError as exc:
            raise ValueError(f"{path} is not a safetensors file") from exc


def load_checkpoint(
    checkpoint_path: Path, *, device: str | torch.device | None = None, expected_sha256: str | None = None
) -> tuple[Encoder, ClassifierHead, dict[str, Any]]:
    """Verify, then rebuild (encoder, head, metadata) from a checkpoint folder or its manifest.json.

    Offline (local files only). Metadata is playbook.json's content (label_names, head, recipe, metric,
    pooling, max_length, best_stage, best_val_macro_f1, stages, ...) plus "sha256" and "directory".
    """
    directory, sha, _ = verify_checkpoint(checkpoint_path, expected_sha256)
    meta = json.loads((directory / PLAYBOOK_FILE).read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    model = AutoModel.from_pretrained(str(directory), local_files_only=True)
    resolved = resolve_device(device)
    model.to(resolved).eval()
    encoder = Encoder(model, tokenizer, source=meta.get("source") or str(directory), device=resolved, fingerprint=sha)
    head = ClassifierHead(**meta["head"])
    head.load_state_dict(load_file(str(directory / HEAD_FILE)))
    head.to(resolved).eval()
    meta["sha256"], meta["directory"] = sha, str(directory)
    return encoder, head, meta
