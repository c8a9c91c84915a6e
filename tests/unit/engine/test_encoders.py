from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from workers.engine.encoders import Encoder, EncoderUnavailable, describe_device, load_encoder, pool

TEXTS = [
    "reset my password",
    "why was my card charged again for this order today ?",
    "box",
    "the parcel arrived",
]


def test_loads_from_local_directory(encoder: Encoder, tiny_bert_dir: Path) -> None:
    assert encoder.source == str(tiny_bert_dir.resolve())
    assert encoder.device == torch.device("cpu")
    assert encoder.device_description == describe_device("cpu") == "cpu"
    assert encoder.num_parameters() == sum(p.numel() for p in encoder.model.parameters()) > 0
    assert not encoder.model.training


def test_encode_is_float32_cpu_without_grad_and_keeps_input_order(encoder: Encoder) -> None:
    batched = encoder.encode(TEXTS, batch_size=2, max_length=32)
    one_by_one = torch.cat([encoder.encode([t], batch_size=1, max_length=32) for t in TEXTS])
    assert batched.shape == (len(TEXTS), 32)
    assert batched.dtype == torch.float32 and batched.device.type == "cpu" and not batched.requires_grad
    # Length-sorted, dynamically padded batches must give each text its own vector back.
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=1e-4)
    assert encoder.encode([], max_length=32).shape == (0, 32)


def test_pooling_modes(encoder: Encoder) -> None:
    mean = encoder.encode(TEXTS, pooling="mean")
    cls = encoder.encode(TEXTS, pooling="cls")
    assert not torch.allclose(mean, cls)
    with pytest.raises(ValueError, match="pooling"):
        encoder.encode(TEXTS, pooling="max")
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert pool(hidden, torch.tensor([[1, 1, 0]]), "mean").item() == 2.0


def test_encode_restores_train_flags(encoder: Encoder) -> None:
    encoder.model.encoder.layer[-1].train()
    encoder.encode(TEXTS)
    assert encoder.model.encoder.layer[-1].training
    assert not encoder.model.encoder.layer[0].training


def test_layer_groups_top_down_then_embeddings(encoder: Encoder) -> None:
    groups = encoder.layer_groups()
    layers = encoder.model.encoder.layer
    assert len(groups) == len(layers) + 1
    assert groups[0] is layers[-1] and groups[len(layers) - 1] is layers[0]
    assert groups[-1] is encoder.model.embeddings


def test_layer_groups_fallback_for_unknown_architecture() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(10, 4)
            self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])

        def get_input_embeddings(self) -> nn.Module:
            return self.tok

    model = Odd()
    groups = Encoder(model, tokenizer=None, source="odd", device=torch.device("cpu")).layer_groups()  # type: ignore[arg-type]
    assert groups == [model.blocks[2], model.blocks[1], model.blocks[0], model.tok]


def test_offline_hub_id_is_refused_fast_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def no_connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    started = time.perf_counter()
    with pytest.raises(EncoderUnavailable, match="offline") as info:
        load_encoder("playbook-tests/no-such-model-4f2a9c")
    assert "not in the local Hugging Face cache" in str(info.value)
    # HF_HUB_OFFLINE=1 wins over offline=False.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailable, match="offline"):
        load_encoder("playbook-tests/no-such-model-4f2a9c", offline=False)
    assert time.perf_counter() - started < 5.0
    assert attempts == []


def test_missing_local_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EncoderUnavailable, match="no such directory"):
        load_encoder(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderUnavailable, match="could not be loaded"):
        load_encoder(str(tmp_path / "empty"))
