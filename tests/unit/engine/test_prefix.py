"""The frozen-prefix cache used by progressive unfreezing: exact states, exact runs, safe fall-backs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workers.engine import prefix as prefix_module
from workers.engine.data import TrainingData
from workers.engine.encoders import Encoder, load_encoder
from workers.engine.prefix import PrefixCache, PrefixUnavailable
from workers.engine.unfreeze import progressive_unfreeze, random_batches

FAST = {"batch_size": 16, "max_length": 32}


def _hidden_states(encoder: Encoder, features, index: int) -> list[torch.Tensor]:
    """hidden_states[b] of the full model (the input to block b), real tokens only, one row at a time."""
    with torch.no_grad():
        out = encoder.model(**encoder.collate([features[index]]), output_hidden_states=True)
    return [h[0] for h in out.hidden_states]


def test_cached_states_are_the_full_models_states_at_the_boundary(encoder: Encoder, training_data) -> None:
    features = encoder.tokenize(training_data.train.texts, max_length=32)
    cache = PrefixCache.build(encoder, features, 1)
    advanced = cache.advance(features, 2)
    assert (cache.boundary, advanced.boundary, len(cache.states)) == (1, 2, len(features))
    for i in (0, 7, len(features) - 1):
        expected = _hidden_states(encoder, features, i)
        assert cache.states[i].shape == (len(features[i]["input_ids"]), encoder.hidden_size)
        torch.testing.assert_close(cache.states[i], expected[1], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(advanced.states[i], expected[2], rtol=1e-5, atol=1e-5)
    # The model is whole again afterwards.
    assert len(encoder.model.encoder.layer) == 3
    assert type(encoder.model.embeddings).__name__ == "BertEmbeddings"


def test_a_cached_run_equals_an_uncached_run(tiny_bert_dir: Path, training_data: TrainingData) -> None:
    runs = {}
    for cached in (True, False):
        encoder = load_encoder(str(tiny_bert_dir), device="cpu")
        # A high learning rate moves the blocks far enough for a wrong cached state to show in the losses.
        result = progressive_unfreeze(
            encoder, None, training_data, max_stages=3, patience=3, seed=3, prefix_cache=cached,
            head_lr=0.05, lr_divisor=10.0, epochs_per_stage=2, **FAST,
        )
        runs[cached] = (result, {k: v.clone() for k, v in encoder.model.state_dict().items()})
    (with_cache, weights_cached), (without, weights_plain) = runs[True], runs[False]
    assert [s["prefix_cache"] for s in with_cache.stages[1:]] == [
        "from block 2",
        "from block 1",
        "not used at this stage",  # stage 3 trains every block: nothing below it is frozen
    ]
    assert all(s["prefix_cache"] == "off" for s in without.stages[1:])
    assert [s["val_macro_f1"] for s in with_cache.stages] == [s["val_macro_f1"] for s in without.stages]
    # Same arithmetic, same dropout draws: equal to float rounding (bit-equal on this CPU build).
    np.testing.assert_allclose(
        [s["train_loss"] for s in with_cache.stages[1:]], [s["train_loss"] for s in without.stages[1:]], rtol=1e-6
    )
    for name, tensor in weights_plain.items():
        torch.testing.assert_close(weights_cached[name], tensor, rtol=1e-4, atol=1e-5, msg=name)


def test_over_budget_cache_is_refused_and_the_run_goes_on_uncached(encoder: Encoder, training_data) -> None:
    result = progressive_unfreeze(
        encoder, None, training_data, max_stages=1, prefix_cache_max_mb=0.001, seed=0, **FAST
    )
    assert result.stages[1]["prefix_cache"].startswith("off: the cache would take")
    assert result.stages[1]["val_macro_f1"] >= 0.0


def test_a_replay_that_does_not_reproduce_the_model_is_refused(
    encoder: Encoder, training_data, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend the embedding stage were only the word-embedding table: replaying there would skip position
    # embeddings and the layer norm, so the self-check must catch the mismatch.
    monkeypatch.setattr(prefix_module, "_EMBEDDING_PATHS", ("embeddings.word_embeddings",))
    features = encoder.tokenize(training_data.train.texts, max_length=32)
    with pytest.raises(PrefixUnavailable, match="does not reproduce"):
        PrefixCache.build(encoder, features, 1)
    result = progressive_unfreeze(encoder, None, training_data, max_stages=1, seed=0, **FAST)
    assert result.stages[1]["prefix_cache"] == (
        "off: replaying the cached prefix does not reproduce the full forward pass"
    )
    assert type(encoder.model.embeddings.word_embeddings).__name__ == "Embedding"


def test_cancelling_inside_a_cached_stage_restores_the_model(encoder: Encoder, training_data) -> None:
    class Cancelled(Exception):
        pass

    def report(step, metrics, progress):
        if "train_loss" in metrics and metrics.get("stage") == 1.0:
            raise Cancelled

    with pytest.raises(Cancelled):
        progressive_unfreeze(encoder, None, training_data, max_stages=2, report=report, **FAST)
    assert len(encoder.model.encoder.layer) == 3
    assert type(encoder.model.embeddings).__name__ == "BertEmbeddings"


def test_batching_is_a_recipe_option(encoder: Encoder, training_data) -> None:
    bucketed = progressive_unfreeze(encoder, None, training_data, max_stages=1, batching="bucketed", **FAST)
    assert bucketed.recipe["batching"] == "bucketed"
    with pytest.raises(ValueError, match="batching"):
        progressive_unfreeze(encoder, None, training_data, batching="sorted", **FAST)


def test_random_batches_cover_every_row_once_in_a_seeded_order() -> None:
    first = random_batches(50, 16, np.random.default_rng(4))
    assert [len(b) for b in first] == [16, 16, 16, 2]
    assert sorted(i for b in first for i in b) == list(range(50))
    assert first == random_batches(50, 16, np.random.default_rng(4))
    assert first != random_batches(50, 16, np.random.default_rng(5))
