"""Frozen-prefix caching for progressive unfreezing.

At unfreezing stage s only the top s transformer blocks train; the embeddings and every block below them
are frozen and run in eval mode (no dropout), so the token states entering the lowest trainable block are
the same in every epoch. ``PrefixCache`` computes those states once per example and replays them, so each
training step and validation pass runs only the blocks above the boundary: the arithmetic is unchanged,
the frozen part is simply not recomputed.

The replay works by temporarily swapping two submodules of the Hugging Face model: the embedding module
becomes ``_Replay`` (it returns the cached states of the current batch) and the block list keeps only the
blocks from the boundary up. The model's own forward still builds the attention mask from the batch, so
this needs no knowledge of a block's call signature, which differs between transformers versions. An
architecture where the swap would not be exact (a module found by the generic lookup that is not really
the whole embedding stage, say) is caught by ``PrefixCache.build``'s self-check, which compares replayed
and full forwards on real rows and refuses the cache on a mismatch; training then runs uncached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from workers.engine.encoders import _EMBEDDING_PATHS, _LAYER_PATHS, Encoder, autocast_for

Features = Sequence[dict[str, list[int]]]


class PrefixUnavailable(RuntimeError):
    """The frozen prefix of this encoder cannot be cached (unknown layout, over budget or inexact)."""


class _Stop(Exception):
    """Raised by a forward hook once the boundary block has produced its output."""


class _Replay(nn.Module):
    """Stands in for the embedding module: returns the states set for the current batch."""

    def __init__(self) -> None:
        super().__init__()
        self.states: torch.Tensor | None = None

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.states is None:
            raise RuntimeError("prefix replay called without states")
        return self.states


def _locate(body: nn.Module, paths: Sequence[str], kind: type) -> tuple[nn.Module, str] | None:
    """(parent, attribute) of the first dotted path that names a module of ``kind``."""
    for dotted in paths:
        *parents, attr = dotted.split(".")
        parent: Any = body
        for part in parents:
            parent = getattr(parent, part, None)
            if parent is None:
                break
        if isinstance(parent, nn.Module) and isinstance(getattr(parent, attr, None), kind):
            return parent, attr
    return None


def _block_output(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


class PrefixCache:
    """Per-example token states entering block ``boundary`` for a fixed list of tokenized rows.

    ``states[i]`` is a [len_i, hidden] tensor (real tokens only; padding is rebuilt per batch). Built with
    ``PrefixCache.build``; advanced to a higher boundary with ``advance`` while the blocks in between are
    still frozen and untouched.
    """

    def __init__(self, encoder: Encoder, boundary: int, states: list[torch.Tensor]) -> None:
        self.encoder, self.boundary, self.states = encoder, boundary, states

    @property
    def nbytes(self) -> int:
        return sum(s.numel() * s.element_size() for s in self.states)

    # -- swapping ------------------------------------------------------------------------------------

    @staticmethod
    def _slots(encoder: Encoder) -> tuple[tuple[nn.Module, str], tuple[nn.Module, str]]:
        body = getattr(encoder.model, "base_model", encoder.model)
        layers = _locate(body, _LAYER_PATHS, nn.ModuleList)
        embeddings = _locate(body, _EMBEDDING_PATHS, nn.Module)
        if layers is None or embeddings is None:
            raise PrefixUnavailable("no recognisable embedding module and block list to replay")
        return layers, embeddings

    @staticmethod
    @contextlib.contextmanager
    def _swapped(encoder: Encoder, first_block: int, replay: _Replay | None) -> Iterator[list[nn.Module]]:
        """Run the model from ``first_block`` up (with ``replay`` as its input stage when given)."""
        (layer_parent, layer_attr), (emb_parent, emb_attr) = PrefixCache._slots(encoder)
        original_layers = getattr(layer_parent, layer_attr)
        original_embeddings = getattr(emb_parent, emb_attr)
        blocks = list(original_layers)
        try:
            if replay is not None:
                setattr(emb_parent, emb_attr, replay)
                setattr(layer_parent, layer_attr, nn.ModuleList(blocks[first_block:]))
            yield blocks
        finally:
            setattr(layer_parent, layer_attr, original_layers)
            setattr(emb_parent, emb_attr, original_embeddings)

    def _padded(self, indices: Sequence[int]) -> torch.Tensor:
        rows = [self.states[i] for i in indices]
        return nn.utils.rnn.pad_sequence(rows, batch_first=True).to(self.encoder.device, non_blocking=True)

    @contextlib.contextmanager
    def replaying(self) -> Iterator["_BatchRunner"]:
        """Inside, ``runner.pooled(features, indices, pooling)`` runs only the blocks from the boundary."""
        replay = _Replay()
        with self._swapped(self.encoder, self.boundary, replay):
            yield _BatchRunner(self, replay)

    # -- building ------------------------------------------------------------------------------------

    @classmethod
    def _capture(
        cls,
        encoder: Encoder,
        features: Features,
        *,
        stop_block: int,
        source: "PrefixCache | None",
        batch_size: int,
    ) -> list[torch.Tensor]:
        """States leaving block ``stop_block - 1`` for every row, from the embeddings or from ``source``."""
        states: list[torch.Tensor | None] = [None] * len(features)
        order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]), reverse=True)
        keep_on = encoder.device if encoder.device.type == "cuda" else torch.device("cpu")
        captured: dict[str, torch.Tensor] = {}

        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            captured["states"] = _block_output(output)
            raise _Stop

        replay = _Replay() if source is not None else None
        first = source.boundary if source is not None else 0
        # no_grad rather than inference_mode: the states later feed autograd-recorded training steps.
        with encoder.preserve_modes(), torch.no_grad(), autocast_for(encoder.device):
            encoder.model.eval()
            with cls._swapped(encoder, first, replay) as blocks:
                handle = blocks[stop_block - 1].register_forward_hook(hook)
                try:
                    for start in range(0, len(order), batch_size):
                        idx = order[start : start + batch_size]
                        batch = encoder.collate([features[i] for i in idx])
                        if replay is not None:
                            replay.states = source._padded(idx)  # type: ignore[union-attr]
                        try:
                            encoder.model(**batch)
                        except _Stop:
                            pass
                        out = captured.pop("states").float()
                        for row, i in enumerate(idx):
                            states[i] = out[row, : len(features[i]["input_ids"])].to(keep_on, copy=True)
                finally:
                    handle.remove()
        return [s for s in states if s is not None]

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        features: Features,
        boundary: int,
        *,
        batch_size: int = 64,
        max_bytes: int | None = None,
        check_rows: int = 8,
    ) -> "PrefixCache":
        """States entering block ``boundary`` (1 <= boundary < number of blocks) for ``features``.

        Raises PrefixUnavailable when the model layout is not recognised, the cache would exceed
        ``max_bytes`` (estimated before any forward pass), or the replayed forward does not reproduce the
        full forward on the first ``check_rows`` rows.
        """
        cls._slots(encoder)
        blocks = encoder.transformer_layers()
        if not 1 <= boundary < len(blocks):
            raise PrefixUnavailable(f"boundary {boundary} is outside 1..{len(blocks) - 1}")
        tokens = sum(len(f["input_ids"]) for f in features)
        estimate = tokens * encoder.hidden_size * 4
        if max_bytes is not None and estimate > max_bytes:
            raise PrefixUnavailable(
                f"the cache would take {estimate / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB budget"
            )
        cache = cls(encoder, boundary, cls._capture(encoder, features, stop_block=boundary, source=None,
                                                    batch_size=batch_size))
        cache._self_check(features, check_rows)
        return cache

    def advance(self, features: Features, boundary: int, *, batch_size: int = 64) -> "PrefixCache":
        """The cache at a higher ``boundary``, computed from this one through the (frozen) blocks between."""
        if boundary == self.boundary:
            return self
        if not self.boundary < boundary < len(self.encoder.transformer_layers()):
            raise PrefixUnavailable(f"cannot advance from block {self.boundary} to block {boundary}")
        states = self._capture(self.encoder, features, stop_block=boundary, source=self, batch_size=batch_size)
        return PrefixCache(self.encoder, boundary, states)

    def _self_check(self, features: Features, rows: int) -> None:
        idx = list(range(min(rows, len(features))))
        if not idx:
            return
        encoder = self.encoder
        batch = encoder.collate([features[i] for i in idx])
        with encoder.preserve_modes(), torch.no_grad(), autocast_for(encoder.device):
            encoder.model.eval()
            full = encoder.forward_pooled(batch, pooling="mean").float()
            with self.replaying() as runner:
                replayed = runner.pooled(features, idx, pooling="mean").float()
        tolerance = 1e-4 if encoder.device.type == "cpu" else 3e-2
        if full.shape != replayed.shape or not torch.allclose(full, replayed, rtol=tolerance, atol=tolerance):
            raise PrefixUnavailable("replaying the cached prefix does not reproduce the full forward pass")


class _BatchRunner:
    def __init__(self, cache: PrefixCache, replay: _Replay) -> None:
        self.cache, self.replay = cache, replay

    def pooled(self, features: Features, indices: Sequence[int], *, pooling: str) -> torch.Tensor:
        """Pooled embeddings of rows ``indices`` (gradients flow into the trainable top blocks)."""
        encoder = self.cache.encoder
        batch = encoder.collate([features[i] for i in indices])
        self.replay.states = self.cache._padded(indices)
        try:
            return encoder.forward_pooled(batch, pooling=pooling)
        finally:
            self.replay.states = None
