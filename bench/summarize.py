"""Summarise several ``train_bench --json`` runs (one per seed) into per-phase means.

One run's macro-F1 delta swings by about a point from random-number draws alone at the quick sizes (200
validation rows, where one example moves macro-F1 by 0.5-1 point), so the 0.5-point F1 target is judged on
the mean over seeds. Usage, from the repository root:

    .venv/bin/python -m bench.summarize /tmp/bench/s7.json /tmp/bench/s8.json /tmp/bench/s9.json

The last line has the train_bench format, with means over the runs: ``frozen_head_speedup=X
unfreeze_speedup=Y f1_delta=Z``, where Z is the phase mean furthest from zero.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

PHASES = ("frozen_linear", "frozen_hidden", "unfreeze")


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):+.2f} ± {sd:.2f}"


def summarize(runs: list[dict]) -> list[str]:
    if not runs:
        raise SystemExit("give at least one train_bench --json file")
    lines = [
        "| seed | frozen speedup | two heads | unfreeze speedup "
        "| ΔF1 frozen linear | ΔF1 frozen hidden | ΔF1 unfreeze |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        d = run["f1_deltas_points"]
        lines.append(
            f"| {run['config']['seed']} | {run['frozen_head_speedup']:.2f} "
            f"| {run['frozen_head_speedup_two_heads']:.2f} "
            f"| {run['unfreeze_speedup']:.2f} | {d['frozen_linear']:+.2f} | {d['frozen_hidden']:+.2f} "
            f"| {d['unfreeze']:+.2f} |"
        )
    means = {p: statistics.fmean(r["f1_deltas_points"][p] for r in runs) for p in PHASES}
    lines.append(
        f"| mean ± sd | {_mean_sd([r['frozen_head_speedup'] for r in runs])[1:]} "
        f"| {_mean_sd([r['frozen_head_speedup_two_heads'] for r in runs])[1:]} "
        f"| {_mean_sd([r['unfreeze_speedup'] for r in runs])[1:]} "
        + " ".join(f"| {_mean_sd([r['f1_deltas_points'][p] for r in runs])}" for p in PHASES)
        + " |"
    )
    worst = max(PHASES, key=lambda p: abs(means[p]))
    lines.append("")
    lines.append(f"runs={len(runs)} f1_delta_phase={worst} (mean over runs, points, ours - Trainer)")
    lines.append(
        f"frozen_head_speedup={statistics.fmean(r['frozen_head_speedup'] for r in runs):.2f} "
        f"unfreeze_speedup={statistics.fmean(r['unfreeze_speedup'] for r in runs):.2f} "
        f"f1_delta={means[worst]:.2f}"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files written by train_bench --json")
    args = parser.parse_args()
    runs = sorted((json.loads(p.read_text()) for p in args.runs), key=lambda r: r["config"]["seed"])
    print("\n".join(summarize(runs)))


if __name__ == "__main__":
    main()
