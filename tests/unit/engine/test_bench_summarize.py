"""bench/summarize.py: per-seed rows, means, and the last line in train_bench's format."""

from bench.summarize import summarize


def _run(seed: int, speedup: float, unfreeze: float, deltas: tuple[float, float, float]) -> dict:
    return {
        "config": {"seed": seed},
        "frozen_head_speedup": speedup,
        "frozen_head_speedup_two_heads": 2 * speedup,
        "unfreeze_speedup": unfreeze,
        "f1_deltas_points": dict(zip(("frozen_linear", "frozen_hidden", "unfreeze"), deltas)),
    }


def test_means_over_seeds_and_the_phase_furthest_from_zero() -> None:
    lines = summarize([_run(7, 10.0, 1.2, (0.2, -1.0, 0.5)), _run(8, 20.0, 1.6, (-0.4, 0.2, 0.9))])
    assert lines[2].startswith("| 7 | 10.00 | 20.00 | 1.20 | +0.20 | -1.00 | +0.50 |")
    # Means: frozen_linear -0.10, frozen_hidden -0.40, unfreeze +0.70 -> unfreeze is furthest from zero.
    assert lines[-2].startswith("runs=2 f1_delta_phase=unfreeze")
    assert lines[-1] == "frozen_head_speedup=15.00 unfreeze_speedup=1.40 f1_delta=0.70"
