from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from workers.engine.encoders import Encoder
from workers.engine.features import cached_features, feature_cache_key, file_sha256


@pytest.fixture()
def texts(tickets: Any) -> list[str]:
    return tickets(20, 5)[0]


def _count_encode_calls(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real_encode = encoder.encode

    def spy(texts: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(len(texts))
        return real_encode(texts, **kwargs)

    monkeypatch.setattr(encoder, "encode", spy)
    return calls


def _args(cache_dir: Path, **overrides: Any) -> dict[str, Any]:
    args = {
        "cache_dir": cache_dir,
        "model_key": "tiny@v1",
        "split_key": "train",
        "pooling": "mean",
        "max_length": 32,
    }
    return {**args, **overrides}


def test_second_call_is_a_hit_without_forward_pass(
    encoder: Encoder, texts: list[str], scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_encode_calls(encoder, monkeypatch)
    first = cached_features(encoder, texts, **_args(scratch))
    assert not first.hit and calls == [len(texts)]
    second = cached_features(encoder, texts, **_args(scratch))
    assert second.hit and calls == [len(texts)]  # no new forward pass
    assert second.path == first.path and second.path.parent == scratch
    assert second.sha256 == first.sha256 == file_sha256(first.path)
    torch.testing.assert_close(second.tensor, first.tensor, rtol=0, atol=0)
    assert first.tensor.shape == (len(texts), 32) and first.tensor.dtype == torch.float32
    assert sorted(p.name for p in scratch.iterdir()) == [first.path.name]  # no temp files left


def test_key_covers_model_split_texts_pooling_and_length(texts: list[str]) -> None:
    base = {"model_key": "m", "split_key": "train", "texts": texts, "pooling": "mean", "max_length": 32}
    keys = {feature_cache_key(**base)}
    for change in (
        {"model_key": "m2"},
        {"split_key": "val"},
        {"texts": texts[:-1]},
        {"pooling": "cls"},
        {"max_length": 64},
        {"texts": ["a b", "c"]},
    ):
        keys.add(feature_cache_key(**{**base, **change}))
    assert len(keys) == 7
    # List boundaries matter: ["a b", "c"] and ["a", "b c"] are different inputs.
    assert feature_cache_key(**{**base, "texts": ["a b", "c"]}) != feature_cache_key(
        **{**base, "texts": ["a", "b c"]}
    )


def test_changed_recipe_is_a_miss(
    encoder: Encoder, texts: list[str], scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_encode_calls(encoder, monkeypatch)
    cached_features(encoder, texts, **_args(scratch))
    other = cached_features(encoder, texts, **_args(scratch, pooling="cls"))
    assert not other.hit and len(calls) == 2 and len(list(scratch.iterdir())) == 2


def test_cancelled_encoding_leaves_no_file(encoder: Encoder, texts: list[str], scratch: Path) -> None:
    def cancel(step: int, metrics: dict[str, float], progress: float) -> None:
        if step == 2:
            raise KeyboardInterrupt("job cancelled")

    with pytest.raises(KeyboardInterrupt):
        cached_features(encoder, texts, batch_size=4, report=cancel, **_args(scratch))
    assert list(scratch.iterdir()) == []


def test_report_progress_is_monotone_and_ends_at_one(
    encoder: Encoder, texts: list[str], scratch: Path
) -> None:
    seen: list[float] = []
    cached_features(encoder, texts, batch_size=4, report=lambda s, m, p: seen.append(p), **_args(scratch))
    assert seen == sorted(seen) and seen[-1] == 1.0 and all(0.0 <= p <= 1.0 for p in seen)


def test_corrupt_cache_entry_is_recomputed(encoder: Encoder, texts: list[str], scratch: Path) -> None:
    first = cached_features(encoder, texts, **_args(scratch))
    first.path.write_bytes(b"not a tensor")
    again = cached_features(encoder, texts, **_args(scratch))
    assert not again.hit and again.sha256 == file_sha256(again.path)
    torch.testing.assert_close(again.tensor, first.tensor)
