"""Pretrained text encoders: loading (offline by default), batched embedding, layer groups for unfreezing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

POOLINGS = ("mean", "cls")

# Where common architectures keep their stack of transformer blocks, most specific first.
_LAYER_PATHS = (
    "encoder.layer",
    "transformer.layer",
    "encoder.layers",
    "layers",
    "transformer.h",
    "h",
    "encoder.block",
)
_EMBEDDING_PATHS = ("embeddings", "transformer.embeddings", "embed_tokens", "wte")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".json")


class EncoderUnavailable(RuntimeError):
    """The requested encoder cannot be loaded (not local, not cached while offline, or unreadable)."""


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a torch.device; None means the current CUDA device when available, else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", torch.cuda.current_device())
    return resolved


def describe_device(device: str | torch.device | None = None) -> str:
    """Human-readable device, e.g. "cuda:0 NVIDIA H100 80GB HBM3" or "cpu"."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return f"cuda:{resolved.index} {torch.cuda.get_device_name(resolved)}"
    return resolved.type


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA, a no-op elsewhere (CPU runs stay float32 and deterministic)."""
    if device.type == "cuda":
        return torch.amp.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Sentence vectors from token states: masked mean over real tokens, or the first ([CLS]) token."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    raise ValueError(f"unknown pooling {pooling!r}; expected one of {POOLINGS}")


def _env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _get_path(root: nn.Module, dotted: str) -> object | None:
    obj: object = root
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _local_fingerprint(directory: Path) -> str:
    """Cheap identity of a model directory: names, sizes and mtimes of its weight/config files."""
    entries = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in _WEIGHT_SUFFIXES:
            stat = path.stat()
            entries.append([str(path.relative_to(directory)), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


class Encoder:
    """A tokenizer + transformer body on one device, producing pooled sentence embeddings."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        source: str,
        device: torch.device,
        fingerprint: str | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.source = source
        self.device = device
        self.device_description = describe_device(device)
        # Identifies the weights for feature caching; the source string alone would miss an edited directory.
        self.fingerprint = fingerprint or hashlib.sha256(source.encode()).hexdigest()

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def model_key(self) -> str:
        """Cache key for this encoder's weights: source plus fingerprint."""
        return f"{self.source}@{self.fingerprint}"

    def num_parameters(self) -> int:
        """Total number of parameters of the transformer body."""
        return sum(p.numel() for p in self.model.parameters())

    def num_bytes(self) -> int:
        """Bytes held by parameters and buffers."""
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)

    # -- tokenization -------------------------------------------------------------------------------

    def effective_max_length(self, max_length: int) -> int:
        """``max_length`` capped by what the tokenizer/model can take."""
        limits = [max_length]
        model_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(model_max, int) and 0 < model_max < 100_000:
            limits.append(model_max)
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            limits.append(positions)
        return min(limits)

    def tokenize(self, texts: Sequence[str], *, max_length: int) -> list[dict[str, list[int]]]:
        """Truncated, unpadded token features per text (padding happens per batch in ``collate``)."""
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=self.effective_max_length(max_length), padding=False
        )
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
        return [{k: encoded[k][i] for k in keys} for i in range(len(texts))]

    def collate(self, features: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        """Right-pad a batch to its own longest sequence (dynamic padding) and move it to the device."""
        longest = max(len(f["input_ids"]) for f in features)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch: dict[str, torch.Tensor] = {}
        for key in features[0]:
            fill = pad_id if key == "input_ids" else 0
            rows = [f[key] + [fill] * (longest - len(f[key])) for f in features]
            batch[key] = torch.tensor(rows, dtype=torch.long, device=self.device)
        if "attention_mask" not in batch:
            lengths = torch.tensor([len(f["input_ids"]) for f in features], device=self.device)
            batch["attention_mask"] = (
                torch.arange(longest, device=self.device)[None, :] < lengths[:, None]
            ).long()
        return batch

    def forward_pooled(self, batch: dict[str, torch.Tensor], *, pooling: str) -> torch.Tensor:
        """Pooled embeddings for a collated batch; gradients flow if enabled by the caller."""
        output = self.model(**batch)
        hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
        return pool(hidden, batch["attention_mask"], pooling)

    @contextlib.contextmanager
    def preserve_modes(self) -> Iterator[None]:
        """Restore every submodule's train/eval flag afterwards (training sets them selectively)."""
        modes = [(m, m.training) for m in self.model.modules()]
        try:
            yield
        finally:
            for module, training in modes:
                module.training = training

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        max_length: int = 128,
        pooling: str = "mean",
        on_batch: Callable[[int, int], None] | None = None,
    ) -> torch.Tensor:
        """Embed ``texts``: float32 CPU tensor [len(texts), hidden], rows in input order, no grad.

        Batches are formed from length-sorted texts (less padding), then rows are put back in order.
        ``on_batch(done, total)`` is called after each batch; whatever it raises propagates.
        """
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; expected one of {POOLINGS}")
        features = self.tokenize(texts, max_length=max_length)
        result = torch.empty((len(features), self.hidden_size), dtype=torch.float32)
        # Longest first, so an out-of-memory batch fails on the first batch rather than the last.
        order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]), reverse=True)
        done = 0
        with self.preserve_modes(), torch.inference_mode(), autocast_for(self.device):
            self.model.eval()
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                pooled = self.forward_pooled(self.collate([features[i] for i in idx]), pooling=pooling)
                result[torch.tensor(idx)] = pooled.float().cpu()
                done += len(idx)
                if on_batch is not None:
                    on_batch(done, len(features))
        return result

    # -- layer groups -------------------------------------------------------------------------------

    def transformer_layers(self) -> list[nn.Module]:
        """The stack of transformer blocks, bottom-up as stored in the model."""
        body = getattr(self.model, "base_model", self.model)
        for dotted in _LAYER_PATHS:
            found = _get_path(body, dotted)
            if isinstance(found, nn.ModuleList) and len(found) > 0:
                return list(found)
        # Unknown architecture: the longest ModuleList is almost always the block stack.
        lists = [m for m in body.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
        return list(max(lists, key=len)) if lists else []

    def embeddings(self) -> nn.Module | None:
        """The token embedding block (word + position + norm for BERT-like models)."""
        body = getattr(self.model, "base_model", self.model)
        for dotted in _EMBEDDING_PATHS:
            found = _get_path(body, dotted)
            if isinstance(found, nn.Module):
                return found
        getter = getattr(body, "get_input_embeddings", None)
        return getter() if callable(getter) else None

    def layer_groups(self) -> list[nn.Module]:
        """Unfreezing units, top-down: last transformer block first, ..., first block, then embeddings.

        Parts outside these groups (e.g. BERT's pooler, unused by mean/CLS pooling) never unfreeze. A model
        with no recognisable block stack is a single group: the whole body.
        """
        layers = self.transformer_layers()
        if not layers:
            return [self.model]
        groups = list(reversed(layers))
        embeddings = self.embeddings()
        if embeddings is not None:
            groups.append(embeddings)
        return groups


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~", ".\\")) or os.path.isabs(source)


def load_encoder(source: str, *, device: str | torch.device | None = None, offline: bool = True) -> Encoder:
    """Load AutoTokenizer + AutoModel from a local directory or a Hugging Face hub id, in eval mode.

    Offline (the default, or whenever HF_HUB_OFFLINE=1) a hub id is only read from the local HF cache
    (``local_files_only=True``, so no network attempt); anything that cannot be loaded raises
    EncoderUnavailable with the reason.
    """
    offline = offline or _env_offline()
    path = Path(source).expanduser()
    is_local = path.is_dir()
    if not is_local and _looks_like_path(source):
        raise EncoderUnavailable(f"encoder {source!r}: no such directory")
    target = str(path) if is_local else source
    try:
        tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=offline)
        model = AutoModel.from_pretrained(target, local_files_only=offline)
    except Exception as exc:  # transformers raises OSError/ValueError/HF errors; all mean "cannot load"
        if offline and not is_local:
            raise EncoderUnavailable(
                f"encoder {source!r} is not a local directory and is not in the local Hugging Face cache; "
                "offline mode (HF_HUB_OFFLINE or offline=True) forbids downloading it. Pre-fetch it into the "
                f"cache or point to a local directory. ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})"
            ) from exc
        raise EncoderUnavailable(
            f"encoder {source!r} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc

    resolved = resolve_device(device)
    model.to(resolved)
    model.eval()
    if is_local:
        fingerprint = _local_fingerprint(path)
    else:
        commit = getattr(model.config, "_commit_hash", None) or ""
        fingerprint = hashlib.sha256(f"{source}@{commit}".encode()).hexdigest()
    return Encoder(
        model,
        tokenizer,
        source=str(path.resolve()) if is_local else source,
        device=resolved,
        fingerprint=fingerprint,
    )
