"""Play 6 packages: what ships when a model is approved, in formats a serving stack loads without pickles.

A package of a fine-tuned transformer (``build_package``) is a folder::

    model/       the checkpoint's encoder (model.safetensors + Hugging Face config and tokenizer files, copied
                 byte for byte), head.safetensors, playbook.json (the checkpoint's record), labels.json and
                 calibration.json (the temperature T: probabilities = softmax(logits / T))
    onnx/        model.onnx (token ids -> encoder -> pooling -> head -> / T -> softmax, dynamic batch and
                 sequence axes), model.int8.onnx (dynamically quantised int8 weights) and tokenizer.json (the
                 tokenizer with truncation and padding switched on; tokenization stays outside the graph)
    monitoring/  reference.json (label mix, confidence histogram) and embeddings.safetensors (a sample of
                 mean-pooled embeddings) for later drift checks
    parity.json  label agreement and probability differences of each ONNX variant against the torch model,
                 and latency / throughput of all three on the machine that built the package
    lineage.json where the model came from (the caller's record plus the checkpoint's sha256)
    README.md    the model card (Hugging Face front matter, the sections of "Model Cards for Model Reporting",
                 loading snippets)
    manifest.json  {"format", "kind", "files": {name: {"sha256", "bytes"}}} in canonical JSON

A shipped baseline (``build_baseline_package``) has ``model/model.skops`` (scikit-learn through skops) and
``model/labels.json`` instead of the encoder, no onnx/ and no embeddings, and the rest as above.

The package's sha256 is the sha256 of manifest.json, which is written in one canonical form; because the
manifest lists every other file's sha256, that hash pins the whole folder. ``verify_package`` re-hashes every
file and refuses a missing, altered or unlisted one (and any file type that could hold a pickle).

torch, transformers, scikit-learn and skops are imported inside the functions that need them, never at module
level: the web process imports ``OnnxPredictor``, ``verify_package`` and ``package_archive`` from here and
must not pay for (or be able to reach) torch. A test checks ``sys.modules`` in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import logging
import math
import os
import random
import re
import shutil
import tarfile
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE_FORMAT = "playbook.package/1"
MANIFEST = "manifest.json"
KINDS = ("transformer", "baseline")

MODEL_DIR, ONNX_DIR, MONITORING_DIR = "model", "onnx", "monitoring"
LABELS_FILE = "model/labels.json"
CALIBRATION_FILE = "model/calibration.json"
SKOPS_FILE = "model/model.skops"
ONNX_TOKENIZER_FILE = "onnx/tokenizer.json"
VARIANTS = {"fp32": "onnx/model.onnx", "int8": "onnx/model.int8.onnx"}
PARITY_FILE = "parity.json"
LINEAGE_FILE = "lineage.json"
CARD_FILE = "README.md"
REFERENCE_FILE = "monitoring/reference.json"
EMBEDDINGS_FILE = "monitoring/embeddings.safetensors"

# A variant whose labels agree with the torch model on fewer than this share of the parity texts is flagged:
# parity_ok is False, the card says so, and OnnxPredictor refuses it unless asked explicitly.
PARITY_THRESHOLD = 0.995
CONFIDENCE_BINS = 20
EMBEDDING_SAMPLE = 500
SAMPLE_SEED = 0
TIMING_CALLS = 200
TIMING_BATCH = 32
# Every tar entry gets this mtime (2000-01-01 UTC), so equal packages give equal archive bytes.
ARCHIVE_MTIME = 946_684_800

# File types a package may hold. None of them is a pickle: ".model" is a sentencepiece protobuf, ".skops" a
# zip of JSON and .npy arrays that skops reads without pickle. Anything else (".pkl", ".pt", ".bin", ...) is
# refused when the manifest is written and when it is verified.
ALLOWED_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".merges", ".onnx", ".md", ".skops")

# The only types skops.io.load may rebuild from a baseline's model.skops. skops trusts most of these by
# default; they are listed here so the trust is explicit and reviewable, and build_baseline_package refuses to
# write a file that needs anything else. A scikit-learn upgrade that adds a type fails loudly at build time.
SKOPS_TRUSTED_TYPES = (
    "builtins.dict",
    "builtins.list",
    "builtins.str",
    "builtins.tuple",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "sklearn.dummy.DummyClassifier",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
)
BASELINES = ("tfidf_logreg", "majority")

# The keys build_package and build_baseline_package read from ``card``. Every key is optional: a missing or
# empty one renders as "not recorded" in the card (and is left out of the front matter). Keys not listed here
# are rendered under "Additional information" rather than dropped.
CARD_FIELDS: dict[str, str] = {
    "model_name": "title of the card (default: 'Text classifier')",
    "summary": "one paragraph: what the model does, for whom",
    "version": "model or package version",
    "model_date": "when the model was trained or approved",
    "developed_by": "team or organisation responsible for the model",
    "contact": "where questions and problem reports go",
    "license": "licence id for the front matter (e.g. 'apache-2.0')",
    "base_model": "Hugging Face Hub id of the pretrained encoder (front matter base_model)",
    "language": "language code or list of codes of the inputs",
    "tags": "extra Hub tags (list of strings)",
    "intended_use": "primary intended uses",
    "intended_users": "primary intended users",
    "out_of_scope": "uses the model is not meant for",
    "factors": "groups, input types or conditions performance may vary with; which of them were evaluated",
    "metrics": "{metric name: value on the sealed test split}",
    "metric_notes": "why these metrics, and any decision threshold",
    "evaluation_data": "the data the figures come from and how it was kept apart from training",
    "training_data": "what the model was trained on",
    "quantitative_analyses": "text, or {slice name: {metric: value}} (rendered as a table)",
    "ethical_considerations": "risks, sensitive data, who could be harmed and how",
    "caveats": "known limitations",
    "recommendations": "what users should do about the caveats",
}
NOT_RECORDED = "not recorded"
# Hub metric ids for the metric names the playbook commits to.
_HUB_METRICS = {"macro_f1": "f1", "f1": "f1", "accuracy": "accuracy", "precision": "precision", "recall": "recall"}

ReportFn = Callable[[int, dict[str, float], float], None]


class PackageInvalid(ValueError):
    """A package folder failed verification (missing, altered, unlisted or unsafe file; wrong hash)."""


@dataclass(frozen=True)
class PackageResult:
    """What a build wrote: the folder, its sha256 (of manifest.json), the manifest's file entries and the
    parity report. ``parity_ok`` has one entry per shipped variant ("fp32", "int8"; a baseline: "skops");
    False means the variant disagreed with the model it was made from and must not be served silently."""

    path: Path
    sha256: str
    kind: str
    files: dict[str, dict[str, Any]]
    parity: dict[str, Any]
    parity_ok: dict[str, bool]
    total_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(self.parity_ok.values())


# --- files, hashing, manifest --------------------------------------------------------------------------------


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    """``value`` as strict JSON data: NaN/inf as None, tuples as lists, numpy scalars as Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, Path):
        return str(value)
    return value


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(data), indent=1, sort_keys=True, allow_nan=False) + "\n")


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    """The one byte form of a manifest that is hashed: sorted keys, no whitespace, ASCII."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _looks_like_pickle(path: Path) -> bool:
    """True when the file starts like a pickle (PROTO opcode 0x80 with protocol 2-5). Safetensors files are
    exempt: their first 8 bytes are a header length, which may start the same way by chance."""
    if path.suffix == ".safetensors":
        return False
    with open(path, "rb") as handle:
        head = handle.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _check_member(rel: str, file: Path) -> None:
    if rel.startswith("/") or ".." in rel.split("/") or "\\" in rel:
        raise PackageInvalid(f"package file name {rel!r} is not a plain relative path")
    if not rel.endswith(ALLOWED_SUFFIXES):
        raise PackageInvalid(f"{rel}: file type not allowed in a package (allowed: {', '.join(ALLOWED_SUFFIXES)})")
    if _looks_like_pickle(file):
        raise PackageInvalid(f"{rel} looks like a pickle; packages never hold pickles")


def _package_files(directory: Path) -> list[str]:
    """Relative names of all files under ``directory`` except the manifest; a symlink is refused."""
    names = []
    for path in directory.rglob("*"):
        if path.is_symlink():
            raise PackageInvalid(f"{path.relative_to(directory).as_posix()} is a symbolic link")
        if path.is_file():
            rel = path.relative_to(directory).as_posix()
            if rel != MANIFEST:
                names.append(rel)
    return sorted(names)


def _write_manifest(directory: Path, kind: str) -> tuple[str, dict[str, dict[str, Any]]]:
    files = {}
    for rel in _package_files(directory):
        path = directory / rel
        _check_member(rel, path)
        files[rel] = {"sha256": _file_sha256(path), "bytes": path.stat().st_size}
    raw = _canonical({"format": PACKAGE_FORMAT, "kind": kind, "files": files})
    (directory / MANIFEST).write_bytes(raw)
    return hashlib.sha256(raw).hexdigest(), files


def package_directory(path: Path | str) -> Path:
    """The package folder for ``path`` (the folder itself or its manifest.json)."""
    path = Path(path)
    return path.parent if path.name == MANIFEST else path


def verify_package(path: Path | str, expected_sha256: str | None = None) -> tuple[Path, str, dict[str, Any]]:
    """Re-hash a package: (folder, sha256, manifest) or PackageInvalid (a ValueError) naming what is wrong.

    Refused: no or non-canonical manifest.json, a manifest hash other than ``expected_sha256``, a listed file
    that is missing or whose size or sha256 differ, a file the manifest does not list, a symbolic link, a file
    type outside ALLOWED_SUFFIXES, a file that starts like a pickle. Reads no weights.
    """
    directory = package_directory(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise PackageInvalid(f"{directory} is not a Playbook package (no {MANIFEST})")
    raw = manifest_path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if expected_sha256 is not None and sha != expected_sha256:
        raise PackageInvalid(f"package {directory}: {MANIFEST} has sha256 {sha}, expected {expected_sha256}")
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise PackageInvalid(f"package {directory}: {MANIFEST} is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
        raise PackageInvalid(f"{directory} is not a {PACKAGE_FORMAT} package")
    if raw != _canonical(manifest):
        raise PackageInvalid(f"package {directory}: {MANIFEST} was rewritten (not in canonical form)")
    if manifest.get("kind") not in KINDS:
        raise PackageInvalid(f"package {directory}: unknown kind {manifest.get('kind')!r}")
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise PackageInvalid(f"package {directory}: {MANIFEST} lists no files")
    for rel, entry in sorted(listed.items()):
        if not isinstance(entry, dict):
            raise PackageInvalid(f"package {directory}: {MANIFEST} entry for {rel} is malformed")
        file = directory / rel
        if file.is_symlink() or not file.is_file():
            raise PackageInvalid(f"package {directory}: {rel} is missing")
        _check_member(rel, file)
        if file.stat().st_size != entry.get("bytes") or _file_sha256(file) != entry.get("sha256"):
            raise PackageInvalid(f"package {directory}: {rel} was altered (sha256 differs from the manifest)")
    extra = sorted(set(_package_files(directory)) - set(listed))
    if extra:
        raise PackageInvalid(f"package {directory}: unlisted file(s) {extra}")
    return directory, sha, manifest


def package_archive(
    path: Path | str, destination: Path | str | None = None, *, expected_sha256: str | None = None
) -> bytes | Path:
    """One deterministic ``.tar.gz`` of a verified package, for download.

    Entries are the manifest's files plus manifest.json, sorted, under one folder ``package-<sha12>/``, each
    with a fixed mtime, owner 0 and mode 0644; the gzip header carries no name or time. The same package
    therefore always gives the same bytes. Returns the bytes, or writes them to ``destination`` (atomically)
    and returns that path.
    """
    directory, sha, manifest = verify_package(path, expected_sha256)
    root = f"package-{sha[:12]}"
    names = sorted([*manifest["files"], MANIFEST])

    def write(target: io.BufferedIOBase) -> None:
        with gzip.GzipFile(filename="", mode="wb", fileobj=target, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for rel in names:
                    info = tarfile.TarInfo(f"{root}/{rel}")
                    info.size = (directory / rel).stat().st_size
                    info.mtime, info.mode, info.uid, info.gid = ARCHIVE_MTIME, 0o644, 0, 0
                    info.uname = info.gname = ""
                    with open(directory / rel, "rb") as handle:
                        tar.addfile(info, handle)

    if destination is None:
        buffer = io.BytesIO()
        write(buffer)
        return buffer.getvalue()
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp_name, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return destination


@contextlib.contextmanager
def _staging(out_dir: Path) -> Iterator[Path]:
    """Build in a temporary sibling of ``out_dir`` and rename it into place only when the block succeeds, so
    a failed or killed build leaves nothing half-written. An existing package at ``out_dir`` is replaced
    (a rerun of the same job); an existing folder that is neither empty nor a package is refused."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise ValueError(f"{out_dir} exists and is not a package; refusing to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        yield tmp
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- small shared pieces ------------------------------------------------------------------------------------


def _check_texts(texts: Sequence[str], what: str) -> list[str]:
    texts = list(texts)
    if not texts:
        raise ValueError(f"{what} is empty; parity and the monitoring reference need texts")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{what} must be strings")
    return texts


def _check_temperature(temperature: float | None) -> float:
    if temperature is None:
        return 1.0
    value = float(temperature)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    return value


def _step(report: ReportFn | None, step: int, total: int, metrics: dict[str, float] | None = None) -> None:
    if report is not None:
        report(step, dict(metrics or {}), step / total)


def _monitoring_reference(probabilities: np.ndarray, label_names: Sequence[str]) -> dict[str, Any]:
    """Label mix and confidence histogram of ``probabilities`` (rows of calibrated class probabilities)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = probabilities.argmax(axis=1)
    counts = np.bincount(predicted, minlength=len(label_names))
    confidence = probabilities.max(axis=1)
    edges = np.linspace(0.0, 1.0, CONFIDENCE_BINS + 1)
    histogram, _ = np.histogram(np.clip(confidence, 0.0, 1.0), bins=edges)
    rows = len(probabilities)
    return {
        "rows": rows,
        "labels": list(label_names),
        "label_mix": {
            "counts": {label: int(counts[i]) for i, label in enumerate(label_names)},
            "shares": {label: float(counts[i] / rows) for i, label in enumerate(label_names)},
        },
        "mean_probabilities": {label: float(probabilities[:, i].mean()) for i, label in enumerate(label_names)},
        "confidence_histogram": {
            "bins": CONFIDENCE_BINS,
            "edges": [round(float(e), 6) for e in edges],
            "counts": [int(c) for c in histogram],
            "of": "the top calibrated probability of each row",
        },
        "mean_confidence": float(confidence.mean()),
    }


def _agreement(reference: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """(share of rows with the same argmax, max absolute probability difference)."""
    reference, other = np.asarray(reference, dtype=np.float64), np.asarray(other, dtype=np.float64)
    agree = float(np.mean(reference.argmax(axis=1) == other.argmax(axis=1)))
    return agree, float(np.max(np.abs(reference - other)))


def _timing(predict: Callable[[list[str]], Any], texts: list[str], calls: int) -> dict[str, Any] | None:
    if calls <= 0:
        return None
    from workers.engine.evaluation import latency_profile

    return latency_profile(predict, texts, calls=calls, warmup=min(10, calls), batch_size=TIMING_BATCH)


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """onnxruntime's quantizer logs a generic 'consider pre-processing' warning on the root logger for every
    model; drop just that line while quantising (nothing else is filtered)."""

    def drop(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


# --- the ONNX path -----------------------------------------------------------------------------------------

# Names of the graph inputs, in order, and the attribute of a tokenizers.Encoding that fills each one.
_INPUT_COLUMNS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def _graph_inputs(encoder: Any) -> list[str]:
    """input_ids and attention_mask always (pooling needs the mask); token_type_ids when the tokenizer
    produces them (BERT-like models do, RoBERTa-like ones do not)."""
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in getattr(encoder.tokenizer, "model_input_names", ()):
        names.append("token_type_ids")
    return names


def _serving_module(encoder: Any, head: Any, *, pooling: str, temperature: float) -> Any:
    """encoder + pooling + head + temperature + softmax as one torch module (what model.onnx holds)."""
    import torch

    from workers.engine.encoders import pool

    class ServingGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.head = encoder.model, head

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
        ) -> torch.Tensor:
            batch = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                batch["token_type_ids"] = token_type_ids
            output = self.encoder(**batch)
            hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
            logits = self.head(pool(hidden, attention_mask, pooling))
            return torch.softmax(logits / temperature, dim=-1)

    return ServingGraph().eval()


def _export_onnx(
    encoder: Any, head: Any, *, pooling: str, temperature: float, max_length: int, path: Path
) -> dict[str, Any]:
    """Export the serving graph to ``path`` (one file, weights inside). Returns {"exporter", "opset", ...}.

    torch's current exporter (``dynamo=True``, torch.export underneath) is tried first; it works for BERT-like
    encoders on torch 2.11-2.13. Only if it raises does the TorchScript exporter (``dynamo=False``) run, and
    the result records that and why.
    """
    import onnx
    import torch

    graph = _serving_module(encoder, head, pooling=pooling, temperature=temperature)
    inputs = _graph_inputs(encoder)
    # Two examples of different lengths, so the padded one exercises the attention mask during tracing.
    example = encoder.tokenizer(
        ["an example sentence for tracing the export", "short"], padding=True, truncation=True,
        max_length=max_length, return_tensors="pt",
    )
    args = tuple(example[name] if name in example else torch.ones_like(example["input_ids"]) for name in inputs)
    info: dict[str, Any] = {"inputs": inputs, "outputs": ["probabilities"]}
    try:
        batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph, args, str(path), dynamo=True, external_data=False, verbose=False, optimize=True,
                input_names=inputs, output_names=["probabilities"],
                dynamic_shapes=tuple({0: batch, 1: sequence} for _ in inputs),
            )
        info["exporter"] = "torch.onnx.export(dynamo=True)"
    except Exception as exc:  # any failure of the new exporter: fall back, and say so in parity.json
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        info["dynamo_error"] = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
        axes["probabilities"] = {0: "batch"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph, args, str(path), dynamo=False, opset_version=17, input_names=inputs,
                output_names=["probabilities"], dynamic_axes=axes,
            )
        info["exporter"] = "torch.onnx.export(dynamo=False)"
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    info["opset"] = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None)
    return info


def _set_onnx_metadata(path: Path, metadata: Mapping[str, str]) -> None:
    """Store label order, temperature etc. in the ONNX file itself, for anyone who only has that file."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


# Per-channel scales: on all-MiniLM-L6-v2 with a trained head they halved the int8 variant's probability
# error against per-tensor scales (label agreement 0.94 -> 0.97 on 400 demo texts) for +0.1 MB and no
# measurable slowdown. reduce_range made it worse (0.85); this CPU has VNNI, so no saturation to avoid.
QUANTIZATION = {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8", "per_channel": True}


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (activations are quantised per call at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_quantizer():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def _serving_tokenizer(encoder: Any, max_length: int) -> str:
    """The encoder's tokenizer as tokenizers-library JSON with truncation to ``max_length`` and right padding
    to the longest text of a batch switched on, so ``Tokenizer.from_file(...).encode_batch`` yields exactly
    the arrays the graph takes."""
    from tokenizers import Tokenizer

    backend = getattr(encoder.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError("packaging needs a tokenizer backed by the tokenizers library (a 'fast' tokenizer)")
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.enable_truncation(max_length=max_length)
    pad_id = encoder.tokenizer.pad_token_id if encoder.tokenizer.pad_token_id is not None else 0
    pad_token = encoder.tokenizer.pad_token or "[PAD]"
    tokenizer.enable_padding(direction="right", pad_id=pad_id, pad_token=pad_token)
    return tokenizer.to_str()


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxPredictor:
    """Serve a transformer package with onnxruntime and the tokenizers library only (no torch, no
    transformers: the web process uses it).

    ``variant`` is "fp32" (onnx/model.onnx) or "int8" (onnx/model.int8.onnx). The package is verified first
    (``verify=False`` skips that, for a folder under construction). A variant flagged in parity.json is
    refused unless ``allow_flagged``. ``threads`` caps onnxruntime's intra-op threads (None: its default).
    """

    def __init__(
        self,
        package_dir: Path | str,
        *,
        variant: str = "fp32",
        threads: int | None = None,
        verify: bool = True,
        expected_sha256: str | None = None,
        allow_flagged: bool = False,
        batch_size: int = 32,
    ) -> None:
        from tokenizers import Tokenizer

        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(VARIANTS)}")
        directory = package_directory(package_dir)
        if verify:
            directory, self.sha256, manifest = verify_package(directory, expected_sha256)
            if manifest["kind"] != "transformer":
                raise ValueError(f"{directory} is a {manifest['kind']} package; OnnxPredictor serves transformers")
        else:
            self.sha256 = None
        parity_path = directory / PARITY_FILE
        if parity_path.is_file() and not allow_flagged:
            entry = json.loads(parity_path.read_text()).get("variants", {}).get(variant, {})
            if entry.get("ok") is False:
                raise ValueError(
                    f"the {variant} variant of {directory} is flagged: its labels agree with the torch model on "
                    f"{entry.get('agreement')} of the parity texts (threshold {PARITY_THRESHOLD}); pass "
                    "allow_flagged=True to serve it anyway"
                )
        self.directory, self.variant, self.batch_size = directory, variant, max(1, int(batch_size))
        self.labels: list[str] = json.loads((directory / LABELS_FILE).read_text())["labels"]
        self.tokenizer = Tokenizer.from_file(str(directory / ONNX_TOKENIZER_FILE))
        self.session = _session(directory / VARIANTS[variant], threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        unknown = sorted(set(self.input_names) - set(_INPUT_COLUMNS))
        if unknown:
            raise ValueError(f"{VARIANTS[variant]} takes inputs this predictor cannot fill: {unknown}")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities (n, k), columns in ``self.labels`` order."""
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be strings")
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            encodings = self.tokenizer.encode_batch(texts[start : start + self.batch_size])
            feed = {
                name: np.asarray([getattr(e, _INPUT_COLUMNS[name]) for e in encodings], dtype=np.int64)
                for name in self.input_names
            }
            parts.append(self.session.run(["probabilities"], feed)[0])
        return np.concatenate(parts)

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """[{"label": the most probable label, "probabilities": {label: probability}}] per text."""
        return _as_predictions(self.predict_proba(texts), self.labels)


def _as_predictions(probabilities: np.ndarray, labels: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"label": labels[int(row.argmax())], "probabilities": {label: float(p) for label, p in zip(labels, row)}}
        for row in probabilities
    ]


# --- building a transformer package ------------------------------------------------------------------------


def build_package(
    checkpoint_path: Path | str,
    out_dir: Path | str,
    *,
    temperature: float | None,
    card: Mapping[str, Any] | None,
    lineage: Mapping[str, Any] | None,
    parity_texts: Sequence[str],
    reference: Mapping[str, Any] | None = None,
    report: ReportFn | None = None,
    timing_calls: int = TIMING_CALLS,
    expected_sha256: str | None = None,
) -> PackageResult:
    """Package a verified Play 4 checkpoint into ``out_dir`` (layout in the module docstring); CPU only.

    ``temperature`` is the one fitted in evaluation (None: 1.0, i.e. uncalibrated, and the card says so).
    ``parity_texts`` are the sealed test split's texts: the ONNX variants are compared with the torch model
    on them, and the monitoring reference is computed from the torch model's outputs on them. ``card``
    holds the CARD_FIELDS keys (all optional); ``lineage`` is stored as given plus the checkpoint's sha256;
    ``reference`` (optional) is stored in monitoring/reference.json under "supplied" (e.g. the test split's
    true label mix, the evaluation's metric values). ``timing_calls`` single calls are timed per runtime
    (0 skips timing: parity.json then holds no figures that vary between runs, and two builds of the same
    checkpoint with the same libraries and thread count give byte-identical packages). ``report(step, metrics, progress)`` follows each phase.

    Raises ValueError for a checkpoint that fails verification, bad arguments, or an ``out_dir`` that holds
    something other than a package. The folder appears only when complete.
    """
    import torch

    from workers.engine.checkpoints import load_checkpoint
    from workers.engine.evaluation import calibrated
    from workers.engine.unfreeze import predict_logits

    texts = _check_texts(parity_texts, "parity_texts")
    temp = _check_temperature(temperature)
    card, lineage = dict(card or {}), dict(lineage or {})
    total = 7
    encoder, head, meta = load_checkpoint(checkpoint_path, device="cpu", expected_sha256=expected_sha256)
    checkpoint_sha = meta["sha256"]
    if lineage.get("checkpoint_sha256") not in (None, checkpoint_sha):
        raise ValueError(
            f"lineage names checkpoint {lineage['checkpoint_sha256']} but the checkpoint is {checkpoint_sha}"
        )
    label_names = [str(label) for label in meta["label_names"]]
    pooling = meta.get("pooling") or "mean"
    max_length = encoder.effective_max_length(int(meta.get("max_length") or 128))
    threads = torch.get_num_threads()
    source_dir = Path(meta["directory"])

    with _staging(Path(out_dir)) as tmp:
        # 1. model/: the checkpoint's files as they are (same bytes, same hashes), plus labels and calibration.
        (tmp / MODEL_DIR).mkdir()
        for rel in sorted(json.loads((source_dir / "manifest.json").read_text())["files"]):
            target = tmp / MODEL_DIR / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_dir / rel, target)
        _write_json(tmp / LABELS_FILE, {
            "labels": label_names,
            "id2label": {str(i): label for i, label in enumerate(label_names)},
            "label2id": {label: i for i, label in enumerate(label_names)},
        })
        _write_json(tmp / CALIBRATION_FILE, {
            "method": "temperature scaling",
            "temperature": temp,
            "fitted": temperature is not None,
            "probabilities": "softmax(logits / temperature)",
        })
        _step(report, 1, total)

        # 2. onnx/: the graph, its tokenizer, the int8 variant.
        (tmp / ONNX_DIR).mkdir()
        fp32_path, int8_path = tmp / VARIANTS["fp32"], tmp / VARIANTS["int8"]
        export = _export_onnx(encoder, head, pooling=pooling, temperature=temp, max_length=max_length,
                              path=fp32_path)
        (tmp / ONNX_TOKENIZER_FILE).write_text(_serving_tokenizer(encoder, max_length))
        _step(report, 2, total)
        _quantize(fp32_path, int8_path)
        export["int8"] = dict(QUANTIZATION)
        metadata = {
            "playbook.labels": json.dumps(label_names), "playbook.temperature": repr(temp),
            "playbook.pooling": pooling, "playbook.max_length": str(max_length),
            "playbook.checkpoint_sha256": checkpoint_sha, "playbook.tokenizer": ONNX_TOKENIZER_FILE,
        }
        for variant, rel in VARIANTS.items():
            _set_onnx_metadata(tmp / rel, {**metadata, "playbook.variant": variant})
        _step(report, 3, total)

        # 3. Parity of each variant against the torch model, on the caller's texts.
        def torch_predict(batch: list[str]) -> np.ndarray:
            logits = predict_logits(encoder, head, batch, max_length=max_length, pooling=pooling)
            return calibrated(logits.float().cpu().numpy(), temp)

        reference_probs = torch_predict(texts)
        predictors = {v: OnnxPredictor(tmp, variant=v, threads=threads, verify=False, allow_flagged=True)
                      for v in VARIANTS}
        variants: dict[str, dict[str, Any]] = {}
        for variant, predictor in predictors.items():
            agreement, max_diff = _agreement(reference_probs, predictor.predict_proba(texts))
            variants[variant] = {
                "file": VARIANTS[variant], "bytes": (tmp / VARIANTS[variant]).stat().st_size,
                "agreement": agreement, "max_abs_probability_diff": max_diff,
                "ok": agreement >= PARITY_THRESHOLD,
            }
        _step(report, 4, total, {f"{v}_agreement": e["agreement"] for v, e in variants.items()})

        # 4. Latency and throughput, all three runtimes in this process with the same thread count.
        latency = None
        if timing_calls > 0:
            latency = {"torch": _timing(torch_predict, texts, timing_calls)}
            for variant, predictor in predictors.items():
                latency[f"onnx_{variant}"] = _timing(predictor.predict_proba, texts, timing_calls)
        del predictors
        parity = {
            "rows": len(texts),
            "threshold": PARITY_THRESHOLD,
            "compared_with": "the torch model (workers.engine predict_logits, then softmax(logits / T))",
            "variants": variants,
            "latency": latency,
            "latency_note": (
                "single-text calls (p50/p95 ms, tokenization included) and texts per second at batch "
                f"{TIMING_BATCH}, measured on the machine that built the package with {threads} thread(s) "
                "for torch and onnxruntime alike" if latency else "not measured for this build"
            ),
            "export": export,
            "environment": _versions(),
        }
        _write_json(tmp / PARITY_FILE, parity)
        _step(report, 5, total)

        # 5. Monitoring reference: the torch model's outputs on the parity texts, and an embedding sample.
        monitoring = _monitoring_reference(reference_probs, label_names)
        sample = sorted(random.Random(SAMPLE_SEED).sample(range(len(texts)), min(EMBEDDING_SAMPLE, len(texts))))
        embeddings = encoder.encode([texts[i] for i in sample], max_length=max_length, pooling="mean")
        _save_embeddings(tmp / EMBEDDINGS_FILE, embeddings.numpy().astype(np.float32), sample)
        monitoring["embeddings"] = {
            "file": EMBEDDINGS_FILE, "tensor": "embeddings", "rows_tensor": "rows", "count": len(sample),
            "dim": int(embeddings.shape[1]), "pooling": "mean", "max_length": max_length,
            "sample_seed": SAMPLE_SEED, "of": "parity_texts (row indices in 'rows')",
        }
        monitoring["supplied"] = dict(reference) if reference else None
        monitoring["temperature"] = temp
        _write_json(tmp / REFERENCE_FILE, monitoring)
        _step(report, 6, total)

        # 6. Lineage, card, manifest.
        _write_json(tmp / LINEAGE_FILE, {**lineage, "checkpoint_sha256": checkpoint_sha})
        facts = {
            "kind": "transformer", "labels": label_names, "temperature": temp, "fitted": temperature is not None,
            "pooling": pooling, "max_length": max_length, "head": meta.get("head") or head.config(),
            "architecture": ", ".join(getattr(encoder.model.config, "architectures", None) or [])
            or encoder.model.config.model_type, "parameters": encoder.num_parameters(),
            "hidden_size": encoder.hidden_size, "checkpoint_sha256": checkpoint_sha, "parity": parity,
            "inputs": export["inputs"],
        }
        (tmp / CARD_FILE).write_text(render_card(card, facts))
        sha, files = _write_manifest(tmp, "transformer")
        _step(report, 7, total, {"bytes": float(sum(f["bytes"] for f in files.values()))})

    flagged = [f"the {v} variant agrees with the torch model on only {e['agreement']:.4f} of the parity texts"
               for v, e in variants.items() if not e["ok"]]
    return PackageResult(
        path=Path(out_dir), sha256=sha, kind="transformer", files=files, parity=parity,
        parity_ok={v: bool(e["ok"]) for v, e in variants.items()},
        total_bytes=_total_bytes(Path(out_dir), files),
        warnings=flagged,
    )


def _total_bytes(directory: Path, files: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(int(f["bytes"]) for f in files.values()) + (directory / MANIFEST).stat().st_size


def _save_embeddings(path: Path, embeddings: np.ndarray, rows: Sequence[int]) -> None:
    # No free-form metadata: safetensors keeps it in a hash map whose order varies between runs, which would
    # make two builds of the same checkpoint differ. What the tensors are is described in reference.json.
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"embeddings": np.ascontiguousarray(embeddings), "rows": np.asarray(rows, dtype=np.int64)}, str(path))


def load_reference(package_dir: Path | str) -> tuple[dict[str, Any], np.ndarray | None]:
    """monitoring/reference.json and the embedding sample (float32 (n, d), or None for a baseline), read
    without torch. The caller verifies the package first when it has not already."""
    directory = package_directory(package_dir)
    reference = json.loads((directory / REFERENCE_FILE).read_text())
    if not (directory / EMBEDDINGS_FILE).is_file():
        return reference, None
    from safetensors.numpy import load_file

    return reference, load_file(str(directory / EMBEDDINGS_FILE))["embeddings"]


def _versions() -> dict[str, str | None]:
    """Versions of the libraries that built and checked the package (absent ones as None)."""
    from importlib import metadata

    names = ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "onnxscript", "scikit-learn", "skops")
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


# --- building a baseline package ---------------------------------------------------------------------------


def _fit_baseline(baseline: str, texts: list[str], labels: list[str]) -> Any:
    """The Play 1 baseline as a plain scikit-learn Pipeline (skops serialises those without custom types).

    "majority" is sklearn's DummyClassifier(most_frequent): it picks the first of the most frequent labels
    in sorted order, the same tie rule as baselines.MajorityClassifier.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    from workers.engine.baselines import TfidfLogRegClassifier

    if baseline == "tfidf_logreg":
        return TfidfLogRegClassifier().fit(texts, labels).pipeline
    if baseline == "majority":
        return Pipeline([("majority", DummyClassifier(strategy="most_frequent"))]).fit(texts, labels)
    raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")


def _skops_types(path: Path) -> set[str]:
    """Every type named in a .skops file's schema (read as JSON from the zip; nothing is rebuilt)."""
    import zipfile

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(path) as archive:
        walk(json.loads(archive.read("schema.json")))
    return found


def load_baseline(package_dir: Path | str, *, verify: bool = True, expected_sha256: str | None = None) -> Any:
    """The fitted scikit-learn pipeline of a baseline package, loaded with ``skops.io.load`` trusting only
    SKOPS_TRUSTED_TYPES (anything else in the file makes skops refuse it)."""
    import skops.io as sio

    directory = package_directory(package_dir)
    if verify:
        directory, _, manifest = verify_package(directory, expected_sha256)
        if manifest["kind"] != "baseline":
            raise ValueError(f"{directory} is a {manifest['kind']} package, not a baseline")
    return sio.load(directory / SKOPS_FILE, trusted=list(SKOPS_TRUSTED_TYPES))


def _baseline_proba(pipeline: Any, texts: list[str], label_names: list[str]) -> np.ndarray:
    """predict_proba with columns in ``label_names`` order (labels never seen in training get 0)."""
    index = {label: i for i, label in enumerate(label_names)}
    fitted = pipeline.predict_proba(texts)
    probabilities = np.zeros((len(texts), len(label_names)))
    for column, label in enumerate(pipeline.classes_):
        probabilities[:, index[str(label)]] = fitted[:, column]
    return probabilities


class SkopsPredictor:
    """Serve a baseline package (scikit-learn through skops) with the same ``predict`` as OnnxPredictor."""

    def __init__(self, package_dir: Path | str, *, verify: bool = True, expected_sha256: str | None = None) -> None:
        directory = package_directory(package_dir)
        self.pipeline = load_baseline(directory, verify=verify, expected_sha256=expected_sha256)
        self.labels: list[str] = json.loads((directory / LABELS_FILE).read_text())["labels"]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels)))
        return _baseline_proba(self.pipeline, texts, self.labels)

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        return _as_predictions(self.predict_proba(texts), self.labels)


def build_baseline_package(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    label_names: Sequence[str],
    baseline: str,
    out_dir: Path | str,
    *,
    card: Mapping[str, Any] | None,
    lineage: Mapping[str, Any] | None,
    parity_texts: Sequence[str],
    reference: Mapping[str, Any] | None = None,
    report: ReportFn | None = None,
    timing_calls: int = TIMING_CALLS,
) -> PackageResult:
    """Package a shipped Play 1 baseline ("tfidf_logreg" or "majority"), fitted here on the train split.

    The fitted pipeline is written with ``skops.io.dump``; the build refuses a file naming a type outside
    SKOPS_TRUSTED_TYPES, reloads it with ``skops.io.load`` (those types only) and checks on ``parity_texts``
    that the reloaded pipeline predicts the same labels (parity_ok["skops"]: all of them) and probabilities.
    Labels, monitoring reference (label mix, confidence histogram), lineage (plus the baseline's name and a
    hash of the training rows), card and manifest as for ``build_package``.
    """
    import skops.io as sio

    texts, labels = _check_texts(train_texts, "train_texts"), [str(label) for label in train_labels]
    if len(texts) != len(labels):
        raise ValueError(f"got {len(texts)} train texts but {len(labels)} labels")
    label_names = [str(label) for label in label_names]
    if len(set(label_names)) != len(label_names) or len(label_names) < 2:
        raise ValueError("label_names must be at least two distinct labels")
    if unknown := sorted(set(labels) - set(label_names)):
        raise ValueError(f"training labels not in label_names: {unknown}")
    checks = _check_texts(parity_texts, "parity_texts")
    card, lineage = dict(card or {}), dict(lineage or {})
    total = 5
    pipeline = _fit_baseline(baseline, texts, labels)
    _step(report, 1, total)

    with _staging(Path(out_dir)) as tmp:
        (tmp / MODEL_DIR).mkdir()
        skops_path = tmp / SKOPS_FILE
        sio.dump(pipeline, skops_path)
        outside = sorted(_skops_types(skops_path) - set(SKOPS_TRUSTED_TYPES))
        if outside:
            raise ValueError(f"the {baseline} pipeline needs types outside SKOPS_TRUSTED_TYPES: {outside}")
        _write_json(tmp / LABELS_FILE, {
            "labels": label_names,
            "id2label": {str(i): label for i, label in enumerate(label_names)},
            "label2id": {label: i for i, label in enumerate(label_names)},
        })
        reloaded = sio.load(skops_path, trusted=list(SKOPS_TRUSTED_TYPES))
        fitted_probs = _baseline_proba(pipeline, checks, label_names)
        reloaded_probs = _baseline_proba(reloaded, checks, label_names)
        same_labels = [str(a) == str(b) for a, b in zip(pipeline.predict(checks), reloaded.predict(checks))]
        agreement = float(np.mean(same_labels))
        _, max_diff = _agreement(fitted_probs, reloaded_probs)
        _step(report, 2, total, {"skops_agreement": agreement})
        latency = None
        if timing_calls > 0:
            latency = {"skops": _timing(lambda batch: reloaded.predict_proba(batch), checks, timing_calls)}
        variants = {"skops": {
            "file": SKOPS_FILE, "bytes": skops_path.stat().st_size, "agreement": agreement,
            "max_abs_probability_diff": max_diff, "ok": agreement == 1.0,
        }}
        parity = {
            "rows": len(checks),
            "threshold": 1.0,
            "compared_with": "the fitted pipeline before it was written (a reload must change nothing)",
            "variants": variants,
            "latency": latency,
            "latency_note": (f"single-text calls (p50/p95 ms) and texts per second at batch {TIMING_BATCH} on "
                             "the machine that built the package" if latency else "not measured for this build"),
            "environment": _versions(),
        }
        _write_json(tmp / PARITY_FILE, parity)
        _step(report, 3, total)

        monitoring = _monitoring_reference(reloaded_probs, label_names)
        monitoring["embeddings"] = None
        monitoring["supplied"] = dict(reference) if reference else None
        _write_json(tmp / REFERENCE_FILE, monitoring)
        rows_hash = hashlib.sha256(_canonical({"texts": texts, "labels": labels})).hexdigest()
        _write_json(tmp / LINEAGE_FILE, {**lineage, "baseline": baseline, "train_rows": len(texts),
                                         "train_rows_sha256": rows_hash})
        _step(report, 4, total)
        facts = {"kind": "baseline", "baseline": baseline, "labels": label_names, "parity": parity,
                 "steps": [name for name, _ in pipeline.steps]}
        (tmp / CARD_FILE).write_text(render_card(card, facts))
        sha, files = _write_manifest(tmp, "baseline")
        _step(report, 5, total)

    return PackageResult(
        path=Path(out_dir), sha256=sha, kind="baseline", files=files, parity=parity,
        parity_ok={"skops": bool(variants["skops"]["ok"])},
        total_bytes=_total_bytes(Path(out_dir), files),
        warnings=[] if variants["skops"]["ok"] else ["the reloaded baseline does not predict the same labels"],
    )


# --- the model card ----------------------------------------------------------------------------------------

SNIPPET_MARK = "<!-- playbook-snippet: {} -->"


def _transformers_snippet(pooling: str, max_length: int, head: Mapping[str, Any]) -> str:
    """Loading snippet (a): transformers for the encoder, safetensors for the head; written for this
    package's pooling and head shape."""
    lines = [
        "import json",
        "",
        "import torch",
        "from safetensors.torch import load_file",
        "from transformers import AutoModel, AutoTokenizer",
        "",
        'package = "."  # the unpacked package folder',
        'tokenizer = AutoTokenizer.from_pretrained(f"{package}/model", local_files_only=True)',
        'encoder = AutoModel.from_pretrained(f"{package}/model", local_files_only=True).eval()',
        'head = load_file(f"{package}/model/head.safetensors")',
        'labels = json.load(open(f"{package}/model/labels.json"))["labels"]',
        'temperature = json.load(open(f"{package}/model/calibration.json"))["temperature"]',
        "",
        'texts = ["my parcel never arrived", "I was charged twice"]',
        f'batch = tokenizer(texts, padding=True, truncation=True, max_length={max_length}, return_tensors="pt")',
        "with torch.no_grad():",
        "    hidden = encoder(**batch).last_hidden_state",
    ]
    if pooling == "cls":
        lines.append("    x = hidden[:, 0]  # first-token pooling")
    else:
        lines += [
            '    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)',
            "    x = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # mean over real tokens",
        ]
    if head.get("normalize"):
        lines.append("    x = torch.nn.functional.normalize(x, dim=-1)")
    if head.get("hidden"):
        lines.append('    x = torch.relu(x @ head["hidden.weight"].T + head["hidden.bias"])')
    lines += [
        '    logits = x @ head["out.weight"].T + head["out.bias"]',
        "    probabilities = torch.softmax(logits / temperature, dim=-1).numpy()",
        "predicted = [labels[i] for i in probabilities.argmax(axis=1)]",
    ]
    return "\n".join(lines)


def _onnx_snippet() -> str:
    """Loading snippet (b): onnxruntime + tokenizers, no torch."""
    return "\n".join([
        "import json",
        "",
        "import numpy as np",
        "import onnxruntime as ort",
        "from tokenizers import Tokenizer",
        "",
        'package = "."  # the unpacked package folder',
        'tokenizer = Tokenizer.from_file(f"{package}/onnx/tokenizer.json")  # truncation and padding preset',
        'session = ort.InferenceSession(f"{package}/onnx/model.onnx", providers=["CPUExecutionProvider"])',
        'labels = json.load(open(f"{package}/model/labels.json"))["labels"]',
        "",
        'texts = ["my parcel never arrived", "I was charged twice"]',
        "encodings = tokenizer.encode_batch(texts)",
        'columns = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}',
        "feed = {i.name: np.array([getattr(e, columns[i.name]) for e in encodings], dtype=np.int64)",
        "        for i in session.get_inputs()}",
        'probabilities = session.run(["probabilities"], feed)[0]  # already calibrated',
        "predicted = [labels[i] for i in probabilities.argmax(axis=1)]",
    ])


def _skops_snippet() -> str:
    trusted = ",\n".join(f'    "{name}"' for name in SKOPS_TRUSTED_TYPES)
    return "\n".join([
        "import json",
        "",
        "import skops.io as sio",
        "",
        'package = "."  # the unpacked package folder',
        "trusted = [",
        trusted + ",",
        "]",
        'pipeline = sio.load(f"{package}/model/model.skops", trusted=trusted)',
        'labels = json.load(open(f"{package}/model/labels.json"))["labels"]',
        "",
        'texts = ["my parcel never arrived", "I was charged twice"]',
        "predicted = list(pipeline.predict(texts))",
        "probabilities = pipeline.predict_proba(texts)  # columns in pipeline.classes_ order",
    ])


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, tuple, dict)) and not value)


def _inline(value: Any) -> str:
    if _empty(value):
        return NOT_RECORDED
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_inline(v) for v in value)
    return str(value)


def _prose(value: Any) -> str:
    """A card value as Markdown: text as written, a list as bullets, a mapping as "key: value" bullets."""
    if _empty(value):
        return f"_{NOT_RECORDED}_"
    if isinstance(value, Mapping):
        return "\n".join(f"- **{k}**: {_inline(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "\n".join(f"- {_inline(v)}" for v in value)
    return _inline(value)


def _cell(value: Any) -> str:
    return _inline(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _yaml_scalar(value: Any) -> str:
    # A JSON string is a valid YAML double-quoted scalar, so no YAML library is needed to write one safely.
    return json.dumps(str(value), ensure_ascii=False)


def _front_matter(card: Mapping[str, Any], facts: Mapping[str, Any]) -> str:
    baseline = facts["kind"] == "baseline"
    lines = ["---"]
    if not _empty(card.get("license")):
        lines.append(f"license: {_yaml_scalar(card['license'])}")
    lines.append(f"library_name: {'sklearn' if baseline else 'transformers'}")
    lines.append("pipeline_tag: text-classification")
    if not baseline and not _empty(card.get("base_model")):
        lines.append(f"base_model: {_yaml_scalar(card['base_model'])}")
    language = card.get("language")
    if not _empty(language):
        languages = language if isinstance(language, (list, tuple)) else [language]
        lines += ["language:"] + [f"- {_yaml_scalar(code)}" for code in languages]
    tags = ["text-classification", "playbook"] + (["skops", "sklearn"] if baseline else ["onnx", "safetensors"])
    extra = card.get("tags")
    if not _empty(extra):
        tags += [str(t) for t in (extra if isinstance(extra, (list, tuple)) else [extra]) if str(t) not in tags]
    lines += ["tags:"] + [f"- {_yaml_scalar(t)}" for t in tags]
    metrics = card.get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        ids = list(dict.fromkeys(_HUB_METRICS.get(str(name), str(name)) for name in metrics))
        lines += ["metrics:"] + [f"- {_yaml_scalar(m)}" for m in ids]
    lines.append("---")
    return "\n".join(lines)


def _parity_section(facts: Mapping[str, Any]) -> str:
    parity = facts["parity"]
    rows = [
        [name, f"{entry['agreement']:.4f}", f"{entry['max_abs_probability_diff']:.2e}",
         "yes" if entry["ok"] else "FLAGGED: do not serve without review"]
        for name, entry in parity["variants"].items()
    ]
    text = [
        f"Checked on {parity['rows']} texts against {parity['compared_with']}.",
        "",
        _table(["variant", "label agreement", "max abs. probability difference", "passes"], rows),
    ]
    if parity.get("latency"):
        timing_rows = [
            [name, f"{t['p50_ms']:.2f}", f"{t['p95_ms']:.2f}",
             f"{t['throughput_per_s']:.1f}" if t.get("throughput_per_s") else NOT_RECORDED]
            for name, t in parity["latency"].items()
        ]
        text += ["", f"Speed ({parity['latency_note']}):", "",
                 _table(["runtime", "p50 ms", "p95 ms", f"texts/s at batch {TIMING_BATCH}"], timing_rows)]
    return "\n".join(text)


def render_card(card: Mapping[str, Any] | None, facts: Mapping[str, Any]) -> str:
    """README.md: Hugging Face front matter, then the sections of "Model Cards for Model Reporting" filled
    from ``card`` (CARD_FIELDS; anything missing reads "not recorded"), then what the package itself knows
    (labels, calibration, parity, how to load it)."""
    card = dict(card or {})
    baseline = facts["kind"] == "baseline"
    name = card.get("model_name") or "Text classifier"
    out = [_front_matter(card, facts), "", f"# {name}", ""]
    out += [_prose(card.get("summary")), ""]

    out += ["## Model details", ""]
    details = {
        "Version": card.get("version"), "Date": card.get("model_date"), "Developed by": card.get("developed_by"),
        "Licence": card.get("license"), "Contact": card.get("contact"),
    }
    if baseline:
        details["Model"] = f"scikit-learn baseline '{facts['baseline']}' (pipeline steps: {', '.join(facts['steps'])})"
    else:
        head = facts["head"]
        shape = f"one hidden layer of {head['hidden']}" if head.get("hidden") else "linear"
        details.update({
            "Base model": card.get("base_model"),
            "Architecture": f"{facts['architecture']} encoder ({facts['parameters']:,} parameters, hidden size "
                            f"{facts['hidden_size']}), {facts['pooling']} pooling, {shape} classification head"
                            + (" on L2-normalised vectors" if head.get("normalize") else ""),
            "Input": f"text, cut to {facts['max_length']} tokens",
            "Calibration": (f"temperature scaling, T = {facts['temperature']:.4f} (probabilities = "
                            "softmax(logits / T))" if facts["fitted"] else
                            "none recorded (T = 1: the probabilities are the raw softmax)"),
            "Checkpoint sha256": facts["checkpoint_sha256"],
        })
    details["Labels"] = ", ".join(facts["labels"])
    out += [f"- **{k}**: {_inline(v)}" for k, v in details.items()] + [""]

    out += ["## Intended use", "", "**Primary intended uses**", "", _prose(card.get("intended_use")), "",
            "**Primary intended users**", "", _prose(card.get("intended_users")), "",
            "**Out-of-scope uses**", "", _prose(card.get("out_of_scope")), ""]
    out += ["## Factors", "", _prose(card.get("factors")), ""]

    out += ["## Metrics", ""]
    metrics = card.get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        out += [_table(["metric", "value on the sealed test split"], [[k, v] for k, v in metrics.items()]), ""]
    else:
        out += [_prose(metrics), ""]
    if not _empty(card.get("metric_notes")):
        out += [_prose(card["metric_notes"]), ""]

    out += ["## Evaluation data", "", _prose(card.get("evaluation_data")), ""]
    out += ["## Training data", "", _prose(card.get("training_data")), ""]

    out += ["## Quantitative analyses", ""]
    analyses = card.get("quantitative_analyses")
    if isinstance(analyses, Mapping) and analyses and all(isinstance(v, Mapping) for v in analyses.values()):
        columns = list(dict.fromkeys(k for v in analyses.values() for k in v))
        out += [_table(["slice", *columns], [[s, *[v.get(c) for c in columns]] for s, v in analyses.items()]), ""]
    else:
        out += [_prose(analyses), ""]
    out += ["### Packaging parity", "", _parity_section(facts), ""]

    out += ["## Ethical considerations", "", _prose(card.get("ethical_considerations")), ""]
    out += ["## Caveats and recommendations", "", "**Caveats**", "", _prose(card.get("caveats")), "",
            "**Recommendations**", "", _prose(card.get("recommendations")), ""]
    flagged = [v for v, e in facts["parity"]["variants"].items() if not e["ok"]]
    if flagged:
        out += [f"The packaged variant(s) {', '.join(flagged)} did not reproduce the model's labels closely "
                "enough (see Packaging parity) and should not be served without review.", ""]

    extra = {k: v for k, v in card.items() if k not in CARD_FIELDS}
    if extra:
        out += ["## Additional information", ""] + [f"**{k}**\n\n{_prose(v)}\n" for k, v in extra.items()]

    out += ["## How to load", ""]
    if baseline:
        out += [
            "The fitted scikit-learn pipeline is stored with skops, which rebuilds objects without pickle and "
            "only from types it is told to trust. Load it with the list below and nothing else:", "",
            SNIPPET_MARK.format("skops"), "```python", _skops_snippet(), "```", "",
        ]
    else:
        out += [
            "Two ways, with the same results up to float rounding.", "",
            "**(a) transformers and safetensors.** The encoder in `model/` loads with `AutoModel`; the head is "
            "a few tensors applied by hand:", "",
            SNIPPET_MARK.format("transformers"), "```python",
            _transformers_snippet(facts["pooling"], facts["max_length"], facts["head"]), "```", "",
            "**(b) onnxruntime and tokenizers, without torch.** `onnx/model.onnx` holds the whole path from "
            "token ids to calibrated probabilities (encoder, pooling, head, temperature, softmax) with dynamic "
            f"batch and sequence axes; it takes {', '.join(f'`{n}`' for n in facts['inputs'])} and returns "
            "`probabilities`. Tokenization happens outside the graph: the `tokenizers` library (installed with "
            "transformers, but needing neither transformers nor torch) reads `onnx/tokenizer.json`, which has "
            "truncation and padding already set. `onnx/model.int8.onnx` is the same graph with int8 weights "
            "(smaller and usually faster on CPU; check its parity above).", "",
            SNIPPET_MARK.format("onnx"), "```python", _onnx_snippet(), "```", "",
        ]

    out += ["## Package contents", "",
            "Every file is listed with its sha256 and size in `manifest.json`; the package's identity is the "
            "sha256 of that file. No file is a pickle.", ""]
    contents = [
        ("model/", "the encoder (safetensors + Hugging Face config and tokenizer), head.safetensors, "
         "labels.json, calibration.json, playbook.json" if not baseline else "model.skops, labels.json"),
    ]
    if not baseline:
        contents.append(("onnx/", "model.onnx, model.int8.onnx, tokenizer.json"))
    contents += [
        ("monitoring/", "reference.json (label mix and confidence histogram of the model on the test texts)"
         + ("" if baseline else ", embeddings.safetensors (a sample of mean-pooled embeddings)")),
        ("parity.json", "the packaging parity and speed figures"),
        ("lineage.json", "where the model and its data came from"),
    ]
    out += [f"- `{path}`: {what}" for path, what in contents] + [""]
    return "\n".join(out)


def card_snippets(readme: str) -> dict[str, str]:
    """The loading snippets embedded in a card, by name ("transformers", "onnx" or "skops")."""
    pattern = re.compile(r"<!-- playbook-snippet: (\w+) -->\n```python\n(.*?)\n```", re.DOTALL)
    return {m.group(1): m.group(2) for m in pattern.finditer(readme)}
