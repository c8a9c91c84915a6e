"""Deriving a smaller encoder from a local one by keeping only its bottom layers.

A shallower copy trades some quality for latency and memory: the kind of second candidate a bake-off
weighs. The derived model is written to a directory (weights stay out of version control).
"""
from __future__ import annotations

from pathlib import Path

from transformers import AutoModel, AutoTokenizer


def truncate_encoder(source: str | Path, destination: Path, *, keep_layers: int) -> Path:
    """Save a copy of the encoder at `source` with only its first `keep_layers` transformer layers.
    Returns `destination`; an existing derived copy is reused as is."""
    destination = Path(destination)
    if (destination / "config.json").is_file():
        return destination
    model = AutoModel.from_pretrained(str(source), local_files_only=True)
    layers = model.encoder.layer
    if not 0 < keep_layers < len(layers):
        raise ValueError(f"keep_layers must be between 1 and {len(layers) - 1}")
    model.encoder.layer = layers[:keep_layers]
    model.config.num_hidden_layers = keep_layers
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    partial = destination.with_name(destination.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(destination)
    return destination
