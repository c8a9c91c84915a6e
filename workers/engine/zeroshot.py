"""Play 1 baseline with no training at all: each text gets the label whose name embeds closest (cosine)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from workers.engine.data import ReportFn
from workers.engine.encoders import Encoder
from workers.engine.features import cached_features


def label_to_text(name: str) -> str:
    """A label id as words: "login_access" / "login-access" / "loginAccess" -> "login access"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return re.sub(r"[\s_\-./]+", " ", spaced).strip().lower()


def zero_shot_baseline(
    encoder: Encoder,
    texts: Sequence[str],
    labels: Sequence[str],
    label_names: Sequence[str],
    *,
    label_descriptions: Mapping[str, str] | None = None,
    pooling: str = "mean",
    cache_dir: Path | None = None,
    max_length: int = 128,
    batch_size: int = 32,
    split_key: str = "zeroshot",
    report: ReportFn | None = None,
) -> dict[str, Any]:
    """Score nearest-label-embedding classification of ``texts`` against their true ``labels``.

    Each label is embedded from its description if given, else from its name as words. Text features
    come from the feature cache when ``cache_dir`` is set. Returns accuracy, macro_f1 (over labels in
    truth or predictions), per_label {precision, recall, f1, support}, label_texts, predictions, n and
    feature_cache ({path, sha256, hit} or None).
    """
    label_names = list(label_names)
    unknown = sorted(set(labels) - set(label_names))
    if unknown:
        raise ValueError(f"labels not in label_names: {unknown}")
    if len(texts) != len(labels) or not texts:
        raise ValueError("need the same, non-zero number of texts and labels")
    descriptions = dict(label_descriptions or {})
    label_texts = {name: descriptions.get(name) or label_to_text(name) for name in label_names}

    last_step = 0

    def forward_report(step: int, metrics: dict[str, float], progress: float) -> None:
        nonlocal last_step
        last_step = step
        if report is not None:
            report(step, metrics, 0.95 * progress)

    cache_info: dict[str, Any] | None = None
    if cache_dir is not None:
        cached = cached_features(
            encoder,
            texts,
            cache_dir=Path(cache_dir),
            model_key=encoder.model_key,
            split_key=split_key,
            pooling=pooling,
            max_length=max_length,
            batch_size=batch_size,
            report=forward_report,
        )
        text_vectors = cached.tensor
        cache_info = {"path": str(cached.path), "sha256": cached.sha256, "hit": cached.hit}
    else:
        text_vectors = encoder.encode(texts, batch_size=batch_size, max_length=max_length, pooling=pooling)
    label_vectors = encoder.encode(
        [label_texts[n] for n in label_names], batch_size=batch_size, max_length=max_length, pooling=pooling
    )

    similarity = (
        torch.nn.functional.normalize(text_vectors, dim=-1)
        @ torch.nn.functional.normalize(label_vectors, dim=-1).T
    )
    predictions = [label_names[i] for i in similarity.argmax(dim=-1).tolist()]
    precision, recall, f1, support = precision_recall_fscore_support(
        list(labels), predictions, labels=label_names, zero_division=0
    )
    result = {
        "accuracy": float(accuracy_score(list(labels), predictions)),
        "macro_f1": float(f1_score(list(labels), predictions, average="macro", zero_division=0)),
        "per_label": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(label_names)
        },
        "label_texts": label_texts,
        "predictions": predictions,
        "n": len(texts),
        "pooling": pooling,
        "feature_cache": cache_info,
    }
    if report is not None:
        report(last_step + 1, {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}, 1.0)
    return result


ZERO_SHOT_SCALE = 20.0  # cosine similarities are multiplied by this before the softmax


def zero_shot_probabilities(encoder: Encoder, texts: Sequence[str], label_names: Sequence[str], *,
                            pooling: str = "mean", max_length: int = 128, batch_size: int = 32) -> np.ndarray:
    """Play 5's frozen zero-shot baseline on the test rows: each text's cosine similarity to every label's
    words, turned into shares by a softmax at a fixed scale (scores that rank the labels, not calibrated
    probabilities). Columns in ``label_names`` order."""
    text_vectors = encoder.encode(list(texts), batch_size=batch_size, max_length=max_length, pooling=pooling)
    label_vectors = encoder.encode([label_to_text(n) for n in label_names], batch_size=batch_size,
                                   max_length=max_length, pooling=pooling)
    similarity = (torch.nn.functional.normalize(text_vectors, dim=-1)
                  @ torch.nn.functional.normalize(label_vectors, dim=-1).T)
    return torch.softmax(similarity.float() * ZERO_SHOT_SCALE, dim=-1).cpu().numpy().astype(np.float64)
