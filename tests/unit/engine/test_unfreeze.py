from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from workers.engine import bakeoff, features, heads, unfreeze, zeroshot
from workers.engine.data import Split, TrainingData
from workers.engine.encoders import Encoder, load_encoder
from workers.engine.features import file_sha256
from workers.engine.heads import ClassifierHead, train_frozen_head
from workers.engine.unfreeze import (
    apply_stage,
    length_bucketed_batches,
    load_checkpoint,
    predict_label_ids,
    progressive_unfreeze,
    retrain_from_checkpoint,
    stage_learning_rates,
    stage_trainable_parameters,
    warmup_then_linear_decay,
)

FAST = {"batch_size": 16, "max_length": 32, "epochs_per_stage": 1}


def _planted(
    curve: list[float],
    calls: list[int],
    snapshots: dict[int, Any] | None = None,
    *,
    n: int | None = None,
    fpr: list[float] | None = None,
) -> unfreeze.Evaluator:
    """An evaluator returning a planted validation curve, recording which stages were evaluated.

    ``n`` plants the validation size (the noise margin's n); ``fpr`` a false-positive-rate curve."""

    def evaluate(encoder: Encoder, head: ClassifierHead, stage: int) -> dict[str, float]:
        calls.append(stage)
        if snapshots is not None:
            snapshots[stage] = (
                {k: v.clone() for k, v in encoder.model.state_dict().items()},
                {k: v.clone() for k, v in head.state_dict().items()},
            )
        scores = {"val_macro_f1": curve[stage], "val_accuracy": curve[stage]}
        if n is not None:
            scores["val_n"] = float(n)
        if fpr is not None:
            scores["val_false_positive_rate"] = fpr[stage]
            scores["val_negatives"] = float(n or 100)
        return scores

    return evaluate


def _head_state(encoder: Encoder, data: TrainingData) -> dict[str, torch.Tensor]:
    x_train = encoder.encode(data.train.texts, max_length=32)
    x_val = encoder.encode(data.val.texts, max_length=32)
    result = train_frozen_head(
        x_train,
        data.label_ids(data.train),
        x_val,
        data.label_ids(data.val),
        num_labels=len(data.label_names),
        epochs=20,
        lr=1e-2,
    )
    return result.state_dict


# -- which parameters train at each stage -----------------------------------------------------------


def test_stage_zero_trains_only_the_head_and_each_stage_adds_the_next_group_down(encoder: Encoder) -> None:
    assert apply_stage(encoder, 0) == []
    assert not any(p.requires_grad for p in encoder.model.parameters())

    expected_prefixes = ["encoder.layer.2.", "encoder.layer.1.", "encoder.layer.0.", "embeddings."]
    for stage in range(1, 5):
        apply_stage(encoder, stage)
        trainable = {n for n, p in encoder.model.named_parameters() if p.requires_grad}
        expected = {
            n for n, _ in encoder.model.named_parameters() if n.startswith(tuple(expected_prefixes[:stage]))
        }
        assert trainable == expected == set(stage_trainable_parameters(encoder, stage))
        assert not any(n.startswith("pooler.") for n in trainable)  # unused by pooling: never unfrozen
    with pytest.raises(ValueError):
        stage_trainable_parameters(encoder, 5)


def test_discriminative_learning_rates() -> None:
    rates = stage_learning_rates(3, head_lr=1e-3, lr_divisor=30.0, layer_decay=0.8)
    assert list(rates) == ["head", "group_0", "group_1", "group_2"]
    assert rates["head"] / rates["group_0"] == pytest.approx(30.0)
    assert rates["group_1"] / rates["group_0"] == pytest.approx(0.8)
    assert rates["group_2"] / rates["group_1"] == pytest.approx(0.8)
    assert stage_learning_rates(0) == {"head": 1e-3}
    for bad in (5.0, 9.99, 100.5, 1000.0):
        with pytest.raises(ValueError, match="lr_divisor"):
            stage_learning_rates(1, lr_divisor=bad)
    stage_learning_rates(1, lr_divisor=10.0)
    stage_learning_rates(1, lr_divisor=100.0)


def test_lr_divisor_outside_range_is_refused_by_the_run(
    encoder: Encoder, training_data: TrainingData
) -> None:
    with pytest.raises(ValueError, match="lr_divisor"):
        progressive_unfreeze(encoder, None, training_data, lr_divisor=5.0)


def test_warmup_then_linear_decay() -> None:
    factor = warmup_then_linear_decay(total_steps=10, warmup_steps=2)
    values = [factor(s) for s in range(10)]
    assert values[0] == pytest.approx(0.5) and values[1] == 1.0 and values[2] == 1.0
    assert values[2:] == sorted(values[2:], reverse=True) and values[-1] > 0.0


def test_length_bucketed_batches_cover_everything_once_with_little_padding() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 60, size=100).tolist()
    batches = length_bucketed_batches(lengths, 10, np.random.default_rng(1))
    assert sorted(i for b in batches for i in b) == list(range(100))
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert max(spreads) < 20  # versus ~57 for random batches
    assert batches == length_bucketed_batches(lengths, 10, np.random.default_rng(1))


# -- the run ----------------------------------------------------------------------------------------


def test_recorded_stage_learning_rates_match_the_recipe(
    encoder: Encoder, training_data: TrainingData
) -> None:
    result = progressive_unfreeze(
        encoder,
        None,
        training_data,
        max_stages=2,
        patience=5,
        lr_divisor=20.0,
        layer_decay=0.5,
        evaluate=_planted([0.1, 0.2, 0.3], []),
        **FAST,
    )
    assert [s["stage"] for s in result.stages] == [0, 1, 2]
    assert result.stages[0]["lrs"] == {"head": 1e-3} and result.stages[0]["train_loss"] is not None
    assert result.stages[2]["unfrozen_groups"] == [0, 1]
    assert result.stages[2]["lrs"] == pytest.approx({"head": 1e-3, "group_0": 5e-5, "group_1": 2.5e-5})
    assert all(s["samples_per_second"] > 0 for s in result.stages)


def test_stops_when_validation_turns_and_keeps_the_best_stage(
    encoder: Encoder, training_data: TrainingData
) -> None:
    calls: list[int] = []
    snapshots: dict[int, Any] = {}
    head = _head_state(encoder, training_data)
    # 0.40 on 400 validation rows has a standard error of 0.0245: 0.60 -> 0.40 is a drop beyond noise.
    result = progressive_unfreeze(
        encoder, head, training_data, evaluate=_planted([0.4, 0.5, 0.6, 0.4, 0.9], calls, snapshots, n=400),
        patience=0, **FAST
    )
    assert calls == [0, 1, 2, 3]  # stage 4 never runs: validation turned at stage 3
    assert result.best_stage == 2 and result.best_val_macro_f1 == 0.6
    assert result.stopped_early and "turned at stage 3" in result.stop_reason
    assert result.stages[3]["worse"] and result.stages[3]["noise_margin"] == pytest.approx((0.6 * 0.4 / 400) ** 0.5)
    assert result.stages[0]["train_loss"] is None  # a given head is only measured at stage 0
    best_encoder, best_head = snapshots[2]
    state = encoder.model.state_dict()
    assert all(torch.equal(state[k], best_encoder[k]) for k in state)  # stage 2 restored in place
    assert all(torch.equal(result.head_state_dict[k], best_head[k]) for k in best_head)
    assert not all(torch.equal(state[k], snapshots[3][0][k]) for k in state)
    assert all(p.requires_grad for p in encoder.model.parameters())  # caller's flags restored


def test_patience_allows_non_improving_stages(encoder: Encoder, training_data: TrainingData) -> None:
    calls: list[int] = []
    result = progressive_unfreeze(
        encoder,
        None,
        training_data,
        patience=1,
        evaluate=_planted([0.4, 0.5, 0.6, 0.3, 0.58], calls, n=400),
        **FAST,
    )
    assert calls == [0, 1, 2, 3, 4] and result.best_stage == 2 and not result.stopped_early


def test_a_one_example_wobble_does_not_stop_the_run(encoder: Encoder, training_data: TrainingData) -> None:
    """The reported failure: 0.81114 -> 0.81107 (one example of ~270) ended the run and kept stage 0."""
    calls: list[int] = []
    curve = [0.81114, 0.81107, 0.8300, 0.8250, 0.8500]
    result = progressive_unfreeze(encoder, None, training_data, patience=0, evaluate=_planted(curve, calls, n=270),
                                  **FAST)
    assert calls == [0, 1, 2, 3, 4] and not result.stopped_early
    assert result.best_stage == 4 and result.best_val_macro_f1 == 0.85
    assert [s["worse"] for s in result.stages] == [False, False, False, False, False]
    assert result.stages[1]["noise_margin"] > 0.02  # one SE at 0.81 on 270 rows


def test_a_real_drop_for_patience_plus_one_stages_stops_and_keeps_the_best(
    encoder: Encoder, training_data: TrainingData
) -> None:
    calls: list[int] = []
    snapshots: dict[int, Any] = {}
    # Two drops beyond noise in a row with patience=1: stops after stage 3, keeps stage 1.
    result = progressive_unfreeze(encoder, None, training_data, patience=1,
                                  evaluate=_planted([0.70, 0.80, 0.70, 0.69, 0.95], calls, snapshots, n=300), **FAST)
    assert calls == [0, 1, 2, 3] and result.stopped_early and result.best_stage == 1
    assert [s["worse"] for s in result.stages] == [False, False, True, True]
    state = encoder.model.state_dict()
    assert all(torch.equal(state[k], snapshots[1][0][k]) for k in state)
    # A drop, a recovery within noise, a drop: not "in a row", so the run goes on to the end.
    calls.clear()
    again = progressive_unfreeze(encoder, None, training_data, patience=1,
                                 evaluate=_planted([0.70, 0.80, 0.70, 0.79, 0.70], calls, n=300), **FAST)
    assert calls == [0, 1, 2, 3, 4] and not again.stopped_early and again.best_stage == 1
    assert [s["worse"] for s in again.stages] == [False, False, True, False, True]
    # noise_se=0: any drop counts (the old rule), so the wobble stops a patience-0 run.
    calls.clear()
    strict = progressive_unfreeze(encoder, None, training_data, patience=0, noise_se=0.0,
                                  evaluate=_planted([0.81114, 0.81107, 0.9, 0.9, 0.9], calls, n=270), **FAST)
    assert calls == [0, 1] and strict.best_stage == 0


def test_stages_are_chosen_by_the_committed_metric_in_its_direction(
    encoder: Encoder, training_data: TrainingData
) -> None:
    calls: list[int] = []
    f1 = [0.50, 0.70, 0.80, 0.75, 0.60]
    fpr = [0.20, 0.10, 0.15, 0.05, 0.30]  # lower is better: stage 3, although macro-F1 peaks at stage 2
    result = progressive_unfreeze(
        encoder, None, training_data, patience=3, metric="false_positive_rate", positive_label="billing",
        evaluate=_planted(f1, calls, n=100, fpr=fpr), **FAST,
    )
    assert result.best_stage == 3 and result.metric == "false_positive_rate" and result.best_val_metric == 0.05
    assert result.best_val_macro_f1 == 0.75
    assert all(s["metric"] == "false_positive_rate" for s in result.stages)
    assert [s["val_metric"] for s in result.stages] == fpr
    assert result.recipe["metric"] == "false_positive_rate" and result.recipe["positive_label"] == "billing"
    by_f1 = progressive_unfreeze(encoder, None, training_data, patience=3, evaluate=_planted(f1, [], n=100), **FAST)
    assert by_f1.best_stage == 2
    with pytest.raises(ValueError, match="positive_label"):
        progressive_unfreeze(encoder, None, training_data, metric="false_positive_rate", **FAST)
    with pytest.raises(ValueError, match="not one of the labels"):
        progressive_unfreeze(encoder, None, training_data, metric="false_positive_rate", positive_label="nope")


def test_default_evaluator_scores_the_false_positive_rate(encoder: Encoder, training_data: TrainingData) -> None:
    result = progressive_unfreeze(encoder, None, training_data, max_stages=1, patience=3,
                                  metric="false_positive_rate", positive_label="shipping", **FAST)
    preds = predict_label_ids(encoder, result.build_head(), training_data.val.texts, max_length=32)
    y = training_data.label_ids(training_data.val)
    positive = training_data.label_names.index("shipping")
    assert result.best_val_metric == pytest.approx(float(np.mean(preds[y != positive] == positive)))


def test_real_validation_run_reports_monotone_progress(encoder: Encoder, training_data: TrainingData) -> None:
    seen: list[tuple[int, float]] = []
    result = progressive_unfreeze(
        encoder,
        None,
        training_data,
        max_stages=1,
        patience=3,
        report=lambda s, m, p: seen.append((s, p)),
        **FAST,
    )
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0 and all(0 <= p <= 1 for p in progress)
    assert 0.0 <= result.best_val_macro_f1 <= 1.0 and len(result.stages) == 2
    preds = predict_label_ids(encoder, result.build_head(), training_data.val.texts, max_length=32)
    f1 = heads.classification_scores(training_data.label_ids(training_data.val), preds)[0]
    assert f1 == pytest.approx(result.best_val_macro_f1)


def test_same_seed_same_run_on_cpu(tiny_bert_dir: Path, training_data: TrainingData) -> None:
    runs = []
    for _ in range(2):
        enc = load_encoder(str(tiny_bert_dir), device="cpu")
        result = progressive_unfreeze(enc, None, training_data, max_stages=2, patience=5, seed=3, **FAST)
        runs.append((result, enc.model.state_dict()))
    (a, state_a), (b, state_b) = runs
    timings = ("seconds", "samples_per_second", "prefix_cache_seconds")
    strip = [{k: v for k, v in s.items() if k not in timings} for s in a.stages]
    assert strip == [{k: v for k, v in s.items() if k not in timings} for s in b.stages]
    assert all(torch.equal(a.head_state_dict[k], b.head_state_dict[k]) for k in a.head_state_dict)
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.mark.parametrize("cancel_at", ["first_step", "final_report"])
def test_cancellation_propagates_and_leaves_no_checkpoint(
    encoder: Encoder, training_data: TrainingData, scratch: Path, cancel_at: str
) -> None:
    class Cancelled(Exception):
        pass

    def report(step: int, metrics: dict[str, float], progress: float) -> None:
        if cancel_at == "first_step" or progress == 1.0:
            raise Cancelled()

    with pytest.raises(Cancelled):
        progressive_unfreeze(
            encoder, None, training_data, max_stages=1, report=report, checkpoint_dir=scratch, **FAST
        )
    assert list(scratch.iterdir()) == []
    assert all(p.requires_grad for p in encoder.model.parameters())


def test_checkpoint_round_trip_and_retrain(
    encoder: Encoder, training_data: TrainingData, tickets: Any, tmp_path: Path
) -> None:
    result = progressive_unfreeze(
        encoder, None, training_data, max_stages=1, patience=3, checkpoint_dir=tmp_path / "v1", **FAST
    )
    assert result.checkpoint_path is not None and result.checkpoint_sha256 == file_sha256(
        result.checkpoint_path
    )
    assert [p.name for p in (tmp_path / "v1").iterdir()] == [result.checkpoint_directory.name]
    assert result.checkpoint_path.name == "manifest.json"

    loaded, head, meta = load_checkpoint(result.checkpoint_path, expected_sha256=result.checkpoint_sha256)
    assert meta["label_names"] == training_data.label_names and meta["recipe"]["max_stages"] == 1
    texts = training_data.val.texts
    np.testing.assert_array_equal(
        predict_label_ids(loaded, head, texts, max_length=32),
        predict_label_ids(encoder, result.build_head(), texts, max_length=32),
    )
    with pytest.raises(ValueError, match="sha256"):
        load_checkpoint(result.checkpoint_path, expected_sha256="0" * 64)

    new_train, new_train_labels = tickets(30, 11)
    new_val, new_val_labels = tickets(15, 12)
    fresh = TrainingData(
        Split(new_train, new_train_labels), Split(new_val, new_val_labels), training_data.label_names
    )
    again = retrain_from_checkpoint(result.checkpoint_path, fresh, checkpoint_dir=tmp_path / "v2")
    assert again.recipe == result.recipe  # same recipe reused
    assert [s["stage"] for s in again.stages][:2] == [0, 1] and again.checkpoint_path is not None
    assert again.checkpoint_path.exists() and again.checkpoint_sha256 == file_sha256(again.checkpoint_path)

    other_labels = TrainingData(Split(["x y", "z"], ["a", "b"]), Split(["x"], ["a"]), ["a", "b"])
    with pytest.raises(ValueError, match="label set changed"):
        retrain_from_checkpoint(result.checkpoint_path, other_labels)


# -- the test split is unreachable from training code -----------------------------------------------


def test_training_data_has_no_test_split_and_cannot_be_given_one(training_data: TrainingData) -> None:
    assert [f.name for f in dataclasses.fields(TrainingData)] == ["train", "val", "label_names"]
    with pytest.raises((AttributeError, TypeError)):
        object.__setattr__(training_data, "test", Split(["leak"], ["billing"]))
    with pytest.raises(TypeError):
        TrainingData(
            training_data.train,
            training_data.val,
            training_data.label_names,
            test=Split(["leak"], ["billing"]),
        )  # type: ignore[call-arg]


def test_training_functions_accept_no_other_data() -> None:
    trainers = [
        unfreeze.progressive_unfreeze,
        unfreeze.retrain_from_checkpoint,
        heads.train_frozen_head,
        features.cached_features,
        bakeoff.run_bakeoff,
        zeroshot.zero_shot_baseline,
    ]
    for fn in trainers:
        params = inspect.signature(fn).parameters
        assert not [p for p in params if "test" in p.lower() or "holdout" in p.lower()], fn.__name__
    for fn in (unfreeze.progressive_unfreeze, unfreeze.retrain_from_checkpoint):
        params = inspect.signature(fn).parameters
        assert params["data"].annotation in (TrainingData, "TrainingData")
        assert not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())


def test_duck_typed_data_carrying_a_test_split_is_rejected(
    encoder: Encoder, training_data: TrainingData
) -> None:
    class Smuggler:
        train, val, label_names = training_data.train, training_data.val, training_data.label_names
        test = Split(["leak"], ["billing"])

    with pytest.raises(TypeError, match="TrainingData"):
        progressive_unfreeze(encoder, None, Smuggler(), **FAST)  # type: ignore[arg-type]


def test_only_train_and_validation_texts_reach_the_encoder(
    encoder: Encoder, training_data: TrainingData, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_tokenize = encoder.tokenize

    def spy(texts: Any, **kwargs: Any) -> Any:
        seen.extend(texts)
        return real_tokenize(texts, **kwargs)

    monkeypatch.setattr(encoder, "tokenize", spy)
    progressive_unfreeze(encoder, None, training_data, max_stages=1, **FAST)
    assert seen and set(seen) <= set(training_data.train.texts) | set(training_data.val.texts)
