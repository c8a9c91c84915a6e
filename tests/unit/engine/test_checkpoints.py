"""Checkpoints are folders of safetensors + JSON (no pickles) that Hugging Face loads, pinned by one hash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer

from workers.engine.checkpoints import ALLOWED_SUFFIXES, load_checkpoint, safetensors_header, verify_checkpoint
from workers.engine.data import TrainingData
from workers.engine.encoders import Encoder
from workers.engine.features import file_sha256
from workers.engine.heads import train_frozen_head
from workers.engine.unfreeze import predict_label_ids, progressive_unfreeze, retrain_from_checkpoint, save_frozen_head_checkpoint

FAST = {"batch_size": 16, "max_length": 32, "epochs_per_stage": 1}


def _frozen(encoder: Encoder, data: TrainingData, tmp: Path, **kwargs):
    x_train, x_val = encoder.encode(data.train.texts, max_length=32), encoder.encode(data.val.texts, max_length=32)
    head = train_frozen_head(x_train, data.label_ids(data.train), x_val, data.label_ids(data.val),
                             num_labels=len(data.label_names), **kwargs)
    path, sha = save_frozen_head_checkpoint(encoder, head, data.label_names,
                                            {"pooling": "mean", "max_length": 32, "seed": 0}, tmp)
    return head, path, sha


def _no_pickles(directory: Path) -> None:
    for file in directory.rglob("*"):
        if not file.is_file():
            continue
        assert file.name.endswith(ALLOWED_SUFFIXES), file.name
        assert not file.read_bytes()[:2].startswith(b"\x80"), f"{file.name} starts like a pickle"
        if file.suffix == ".safetensors":
            assert safetensors_header(file)  # parses as safetensors
        elif file.suffix == ".json":
            json.loads(file.read_text())


def test_frozen_head_checkpoint_round_trip_is_hf_loadable_and_pickle_free(
    encoder: Encoder, training_data: TrainingData, tmp_path: Path
) -> None:
    head, path, sha = _frozen(encoder, training_data, tmp_path)
    directory = path.parent
    assert path.name == "manifest.json" and file_sha256(path) == sha
    names = {p.name for p in directory.iterdir()}
    assert {"model.safetensors", "config.json", "head.safetensors", "playbook.json", "manifest.json"} <= names
    assert "tokenizer.json" in names or "vocab.txt" in names
    _no_pickles(directory)
    # A serving stack loads the folder with plain transformers + safetensors.
    model = AutoModel.from_pretrained(str(directory), local_files_only=True)
    AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    original = encoder.model.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in model.state_dict().items())
    weights = load_file(str(directory / "head.safetensors"))
    assert all(torch.equal(weights[k], head.state_dict[k]) for k in head.state_dict)
    meta = json.loads((directory / "playbook.json").read_text())
    assert meta["label_names"] == training_data.label_names and meta["metric"] == "macro_f1"
    assert meta["pooling"] == "mean" and meta["max_length"] == 32 and meta["head"] == head.config

    loaded, loaded_head, info = load_checkpoint(path, expected_sha256=sha)
    assert info["sha256"] == sha and info["kind"] == "frozen_head"
    texts = training_data.val.texts
    np.testing.assert_array_equal(
        predict_label_ids(loaded, loaded_head, texts, max_length=32),
        head.predict(encoder.encode(texts, max_length=32)),
    )
    # The folder itself is accepted as the path too.
    load_checkpoint(directory, expected_sha256=sha)


@pytest.mark.parametrize("target", ["model.safetensors", "head.safetensors", "playbook.json", "config.json"])
def test_an_altered_file_is_refused_by_name(
    encoder: Encoder, training_data: TrainingData, tmp_path: Path, target: str
) -> None:
    _, path, sha = _frozen(encoder, training_data, tmp_path)
    file = path.parent / target
    if target.endswith(".safetensors"):
        state = load_file(str(file))
        name = sorted(state)[0]
        state[name] = state[name] + 1e-3
        save_file(state, str(file), metadata={"format": "pt"})
    else:
        meta = json.loads(file.read_text())
        meta["tampered"] = True
        file.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=target.replace(".", r"\.")):
        load_checkpoint(path, expected_sha256=sha)
    with pytest.raises(ValueError, match="altered"):
        verify_checkpoint(path)


def test_a_rewritten_manifest_or_an_extra_file_is_refused(
    encoder: Encoder, training_data: TrainingData, tmp_path: Path
) -> None:
    _, path, sha = _frozen(encoder, training_data, tmp_path)
    with pytest.raises(ValueError, match="sha256"):
        load_checkpoint(path, expected_sha256="0" * 64)
    (path.parent / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(ValueError, match="unlisted"):
        load_checkpoint(path, expected_sha256=sha)


def test_unfreeze_checkpoint_round_trip_and_retrain_reuses_the_metric(
    encoder: Encoder, training_data: TrainingData, tmp_path: Path
) -> None:
    head, path, sha = _frozen(encoder, training_data, tmp_path / "frozen", metric="accuracy")
    loaded, loaded_head, meta = load_checkpoint(path, expected_sha256=sha)
    assert meta["recipe"]["metric"] == "accuracy"
    result = progressive_unfreeze(loaded, loaded_head.state_dict(), training_data, max_stages=1, patience=2,
                                  metric="accuracy", checkpoint_dir=tmp_path / "unfrozen", **FAST)
    assert result.checkpoint_path is not None and file_sha256(result.checkpoint_path) == result.checkpoint_sha256
    _no_pickles(result.checkpoint_directory)
    again, again_head, again_meta = load_checkpoint(result.checkpoint_path, expected_sha256=result.checkpoint_sha256)
    texts = training_data.val.texts
    np.testing.assert_array_equal(predict_label_ids(again, again_head, texts, max_length=32),
                                  predict_label_ids(loaded, result.build_head(), texts, max_length=32))
    assert again_meta["metric"] == "accuracy" and again_meta["best_stage"] == result.best_stage
    retrained = retrain_from_checkpoint(result.checkpoint_path, training_data,
                                        expected_sha256=result.checkpoint_sha256, max_stages=1)
    assert retrained.metric == "accuracy" and retrained.recipe["metric"] == "accuracy"
    overridden = retrain_from_checkpoint(result.checkpoint_path, training_data, max_stages=1, metric="macro_f1")
    assert overridden.metric == "macro_f1"


def test_normalised_head_keeps_its_normalisation_through_a_checkpoint(
    encoder: Encoder, training_data: TrainingData, tmp_path: Path
) -> None:
    head, path, sha = _frozen(encoder, training_data, tmp_path, c_grid=(10.0,), solver="lbfgs")
    _, loaded_head, meta = load_checkpoint(path, expected_sha256=sha)
    assert loaded_head.normalize == head.config["normalize"] == meta["head"]["normalize"]
