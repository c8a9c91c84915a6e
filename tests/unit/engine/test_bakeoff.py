from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workers.engine.bakeoff import run_bakeoff
from workers.engine.encoders import Encoder
from workers.engine.zeroshot import label_to_text, zero_shot_baseline

SCORECARD_KEYS = {
    "accuracy",
    "macro_f1",
    "false_positive_rate",
    "fold_macro_f1_mean",
    "fold_macro_f1_std",
    "p50_latency_ms",
    "p95_latency_ms",
    "throughput_per_s",
    "peak_memory_bytes",
    "memory_measure",
    "parameters",
    "model_bytes",
    "device",
    "feature_cache",
    "load_seconds",
}


@pytest.fixture(scope="module")
def sample(tickets: Any) -> tuple[list[str], list[str]]:
    return tickets(45, 21)


def _candidates(tiny_bert_dir: Path, tiny_bert_2l_dir: Path, tmp_path: Path) -> list[dict[str, str]]:
    return [
        {"name": "tiny-3l", "source": str(tiny_bert_dir)},
        {"name": "tiny-2l", "source": str(tiny_bert_2l_dir)},
        {"name": "broken", "source": str(tmp_path / "no-such-model")},
    ]


def test_bakeoff_scores_every_candidate_and_isolates_failures(
    tiny_bert_dir: Path, tiny_bert_2l_dir: Path, tmp_path: Path, sample: tuple[list[str], list[str]]
) -> None:
    texts, labels = sample
    seen: list[float] = []
    result = run_bakeoff(
        _candidates(tiny_bert_dir, tiny_bert_2l_dir, tmp_path),
        texts,
        labels,
        cache_dir=tmp_path / "cache",
        positive_label="billing",
        folds=3,
        max_length=32,
        latency_examples=5,
        report=lambda s, m, p: seen.append(p),
    )
    cards = result["candidates"]
    assert set(cards) == {"tiny-3l", "tiny-2l", "broken"}
    for name in ("tiny-3l", "tiny-2l"):
        card = cards[name]
        assert "error" not in card and SCORECARD_KEYS <= set(card)
        assert 0.0 <= card["macro_f1"] <= 1.0 and 0.0 <= card["false_positive_rate"] <= 1.0
        assert card["p95_latency_ms"] >= card["p50_latency_ms"] > 0 and card["throughput_per_s"] > 0
        assert card["device"] == "cpu" and card["memory_measure"] == "cpu_rss_increase"
        assert card["feature_cache"]["hit"] is False and len(card["feature_cache"]["sha256"]) == 64
    assert cards["tiny-3l"]["parameters"] > cards["tiny-2l"]["parameters"]
    assert cards["broken"]["stage"] == "load" and "EncoderUnavailable" in cards["broken"]["error"]
    assert sorted(result["ranking"]) == ["tiny-2l", "tiny-3l"] and result["best"] == result["ranking"][0]
    assert result["metric"] == "macro_f1" and result["device"] == "cpu" and result["folds"] == 3
    assert seen == sorted(seen) and seen[-1] == 1.0

    # Same sample, same recipe: the features come from the cache, byte-identical.
    again = run_bakeoff(
        _candidates(tiny_bert_dir, tiny_bert_2l_dir, tmp_path)[:2],
        texts,
        labels,
        cache_dir=tmp_path / "cache",
        folds=3,
        max_length=32,
        latency_examples=3,
    )
    for name in ("tiny-3l", "tiny-2l"):
        assert again["candidates"][name]["feature_cache"]["hit"] is True
        assert again["candidates"][name]["feature_cache"]["sha256"] == cards[name]["feature_cache"]["sha256"]
        assert again["candidates"][name]["macro_f1"] == cards[name]["macro_f1"]


class Cancelled(Exception):
    pass


@pytest.mark.parametrize("when", ["first_report", "last_report"])
def test_bakeoff_cancellation_is_not_swallowed(
    tiny_bert_dir: Path,
    tiny_bert_2l_dir: Path,
    tmp_path: Path,
    sample: tuple[list[str], list[str]],
    when: str,
) -> None:
    def cancel(step: int, metrics: dict[str, float], progress: float) -> None:
        if when == "first_report" or progress == 1.0:
            raise Cancelled()

    # An ordinary Exception subclass: it must propagate, not become a candidate's "error" entry.
    with pytest.raises(Cancelled):
        run_bakeoff(
            _candidates(tiny_bert_dir, tiny_bert_2l_dir, tmp_path)[:2],
            *sample,
            cache_dir=tmp_path,
            folds=3,
            max_length=32,
            latency_examples=2,
            report=cancel,
        )


def test_bakeoff_validates_its_inputs(
    tiny_bert_dir: Path, tmp_path: Path, sample: tuple[list[str], list[str]]
) -> None:
    one = [{"name": "a", "source": str(tiny_bert_dir)}]
    two = one + [{"name": "b", "source": str(tiny_bert_dir)}]
    with pytest.raises(ValueError, match="two or three"):
        run_bakeoff(one, *sample, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="positive_label"):
        run_bakeoff(two, *sample, cache_dir=tmp_path, metric="false_positive_rate")
    with pytest.raises(ValueError, match="unique"):
        run_bakeoff([one[0], one[0]], *sample, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="metric"):
        run_bakeoff(two, *sample, cache_dir=tmp_path, metric="auc")


def test_label_names_become_words() -> None:
    assert label_to_text("login_access") == "login access"
    assert label_to_text("late-delivery") == "late delivery"
    assert label_to_text("wrongItem") == "wrong item"


def test_zero_shot_baseline(encoder: Encoder, tmp_path: Path, sample: tuple[list[str], list[str]]) -> None:
    texts, labels = sample
    names = ["login_access", "billing", "shipping"]
    result = zero_shot_baseline(
        encoder,
        texts,
        labels,
        names,
        cache_dir=tmp_path,
        max_length=32,
        label_descriptions={"billing": "invoice charge refund"},
    )
    assert result["label_texts"] == {
        "login_access": "login access",
        "billing": "invoice charge refund",
        "shipping": "shipping",
    }
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["macro_f1"] <= 1.0
    assert (
        set(result["per_label"]) == set(names)
        and sum(v["support"] for v in result["per_label"].values()) == 45
    )
    assert len(result["predictions"]) == 45 and result["feature_cache"]["hit"] is False
    again = zero_shot_baseline(
        encoder,
        texts,
        labels,
        names,
        cache_dir=tmp_path,
        max_length=32,
        label_descriptions={"billing": "invoice charge refund"},
    )
    assert again["feature_cache"]["hit"] is True and again["predictions"] == result["predictions"]
    with pytest.raises(ValueError, match="not in label_names"):
        zero_shot_baseline(encoder, texts, labels, ["billing", "shipping"])
