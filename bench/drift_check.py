"""Benchmark (not a test): how long one Play 6 ``drift_check`` takes, and the demo monitoring setup.

A stand-in for a deployed model on the demo corpus (``demo.generate``): TF-IDF + multinomial logistic
regression trained on one seeded sample, a temperature fitted on a second (validation) sample, an "encoder"
that maps texts to dense vectors (truncated SVD of the TF-IDF matrix, so embeddings depend on the text), and
a reference of 1,000 held-out rows (texts, calibrated-model probabilities, embeddings), as Play 6 takes from
the sealed test split. ``tests/unit/engine/test_drift.py`` builds its streams with the same helpers.

The benchmark times ``drift_check`` on windows of ``--rows`` predictions (default 1,000) against the
1,000-row reference with ``--permutations`` (default 200): one window from the same distribution and one
from the drifted chat traffic of the demo's production sample. It prints each part's wall seconds (the
best of ``--repeats`` runs and the median), and the host's CPU count and load average, because other work
on a shared machine slows every part:

    .venv/bin/python -m bench.drift_check
    .venv/bin/python -m bench.drift_check --rows 1000 --permutations 200 --repeats 3 --dims 384
    .venv/bin/python -m bench.drift_check --streams    # the false-alarm and detection figures
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy
import sklearn
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from demo.generate import LABELS, generate
from workers.engine.drift import AlertPolicy, drift_check, windows
from workers.engine.evaluation import fit_temperature

Row = dict[str, str]


@dataclass
class DemoMonitoring:
    """A deployed demo model and its reference; ``window`` turns rows into what production would log."""

    vectorizer: TfidfVectorizer
    classifier: LogisticRegression
    encoder: TruncatedSVD
    temperature: float
    reference: dict
    seed: int

    def window(self, rows: Sequence[Row], *, labelled_every: int | None = None,
               time: float | None = None) -> dict:
        """Texts, raw model probabilities, embeddings and (every ``labelled_every``-th row, else -1) the true
        label, as a monitoring window."""
        texts = [row["text"] for row in rows]
        features = self.vectorizer.transform(texts)
        labels = np.array([LABELS.index(row["label"]) for row in rows])
        if labelled_every is None:
            labels = None
        else:
            labels = np.where(np.arange(len(rows)) % labelled_every == 0, labels, -1)
        return {"texts": texts, "probs": self.classifier.predict_proba(features),
                "embeddings": self.encoder.transform(features), "labels": labels, "time": time}


def demo_monitoring(seed: int = 0, *, reference_rows: int = 1000, dims: int = 48) -> DemoMonitoring:
    """Train the demo model on ``generate(seed + 1)``, fit its temperature on ``generate(seed + 2)`` and take
    the reference from ``generate(seed + 3)``; streams should come from other seeds."""
    train, _ = generate(seed=seed + 1, rows=2000, production_rows=10)
    validation, _ = generate(seed=seed + 2, rows=600, production_rows=10)
    held_out, _ = generate(seed=seed + 3, rows=reference_rows, production_rows=10)
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
    features = vectorizer.fit_transform([row["text"] for row in train])
    labels = [LABELS.index(row["label"]) for row in train]
    classifier = LogisticRegression(C=10, max_iter=2000).fit(features, labels)
    encoder = TruncatedSVD(dims, random_state=seed).fit(features)
    val_logits = classifier.decision_function(vectorizer.transform([row["text"] for row in validation]))
    temperature = fit_temperature(val_logits, [LABELS.index(row["label"]) for row in validation])
    monitoring = DemoMonitoring(vectorizer, classifier, encoder, temperature, {}, seed)
    reference = monitoring.window(held_out)
    monitoring.reference = {"texts": reference["texts"], "probs": reference["probs"],
                            "embeddings": reference["embeddings"]}
    return monitoring


def same_distribution_stream(seed: int, rows: int) -> list[Row]:
    """E-mail tickets from the demo generator with a seed of their own: the reference's distribution."""
    sample, _ = generate(seed=seed, rows=rows, production_rows=10)
    return sample


def chat_stream(seed: int, rows: int) -> list[Row]:
    """The demo's drifted production traffic: short chat messages with slang, typos and another label mix."""
    _, production = generate(seed=seed, rows=10, production_rows=rows)
    return production


def label_mix_stream(seed: int, rows: int, mix: dict[str, float]) -> list[Row]:
    """Tickets of the reference's kind, drawn to another label mix (a seeded sample per label)."""
    pool = same_distribution_stream(seed, rows * 4)
    rng = random.Random(f"mix-{seed}")
    chosen: list[Row] = []
    for label, share in mix.items():
        members = [row for row in pool if row["label"] == label]
        chosen += rng.sample(members, min(len(members), round(share * rows)))
    rng.shuffle(chosen)
    return chosen


NEW_WORDING = ["Since the Zephyr rollout this happens.", "This started after the Zephyr sync update.",
               "Zephyr connector again."]


def new_vocabulary_stream(seed: int, rows: int, share: float = 0.3) -> list[Row]:
    """Tickets of the reference's kind where a share mention something new (an integration the reference
    never saw), as after a product launch."""
    rng = random.Random(f"vocabulary-{seed}")
    return [{"text": f"{row['text']} {rng.choice(NEW_WORDING)}" if rng.random() < share else row["text"],
             "label": row["label"]} for row in same_distribution_stream(seed, rows)]


def _time(monitoring: DemoMonitoring, window: dict, *, permutations: int, repeats: int) -> list[dict]:
    policy = AlertPolicy(performance_floor=0.8)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = drift_check(monitoring.reference, window, policy=policy, metric="macro_f1",
                             temperature=monitoring.temperature, label_names=LABELS,
                             permutations=permutations)
        runs.append({**result["seconds"], "wall": time.perf_counter() - started, "result": result})
    return runs


def run_stream(monitoring: DemoMonitoring, rows: Sequence[Row], *, policy: AlertPolicy, size: int = 300,
               labelled_every: int | None = 3, reference: dict | None = None,
               permutations: int = 200) -> list[dict]:
    """Stamp ``rows`` one every 10 s, cut them into windows of ``size`` and run ``drift_check`` on each in
    turn, passing the earlier windows' summaries as history (as the monitoring job does)."""
    stamped = [{**row, "time": 10.0 * i} for i, row in enumerate(rows)]
    results: list[dict] = []
    for window in windows(stamped, size=size, max_age_seconds=86_400, min_size=policy.min_window):
        if window["closed_by"] is None:
            continue
        logged = monitoring.window(window["rows"], labelled_every=labelled_every, time=window["end"])
        results.append(drift_check(reference or monitoring.reference, logged, policy=policy,
                                   metric="macro_f1", temperature=monitoring.temperature, label_names=LABELS,
                                   permutations=permutations, history=[r["summary"] for r in results]))
    return results


SHIFTED_MIX = {"account_cancellation": 0.05, "billing": 0.10, "bug_report": 0.15, "data_privacy": 0.05,
               "feature_request": 0.05, "how_to": 0.10, "login_access": 0.50}


def streams(seed: int = 100, floor: float = 0.82) -> None:
    """The false-alarm and detection figures: the streams of tests/unit/engine/test_drift.py, each window's
    breached signals and the alerts the default policy (plus a macro-F1 floor) fires."""
    monitoring = demo_monitoring(seed)
    policy = AlertPolicy(performance_floor=floor)
    pool = same_distribution_stream(300, 1000 + 20 * 200)
    pool = [pool[i] for i in np.random.default_rng(0).permutation(len(pool))]
    cases = [
        ("same distribution, other seed (20 x 300)", 0, same_distribution_stream(200, 20 * 300), 300, None),
        ("same pool split at random (20 x 200)", 0, pool[1000:], 200, monitoring.window(pool[:1000])),
        ("4 clean, then chat (8 x 300)", 4,
         same_distribution_stream(400, 1200) + chat_stream(400, 1200), 300, None),
        ("40% new vocabulary (4 x 300)", 0, new_vocabulary_stream(600, 1200, share=0.4), 300, None),
        ("shifted label mix (4 x 300)", 0, label_mix_stream(700, 1200, SHIFTED_MIX), 300, None),
    ]
    print(f"# policy: defaults + performance_floor={floor} (macro-F1); windows: breached signals per window, "
          "'!' marks a window where an alert fired, 'R' a retrain trigger")
    print("| stream | windows | windows with any breach | alerts fired | first alert (windows after onset) "
          "| retrain | per window |")
    print("|---|---|---|---|---|---|---|")
    for name, onset, rows, size, reference in cases:
        results = run_stream(monitoring, rows, policy=policy, size=size, reference=reference)
        decisions = [r["decision"] for r in results]
        fired = [i for i, x in enumerate(decisions) if x["alerts"]]
        first = next((i - onset + 1 for i in fired if i >= onset), None)
        retrain = [i - onset + 1 for i, x in enumerate(decisions) if x["retrain"]]
        cells = []
        for x in decisions:
            mark = ("!" if x["alerts"] else "") + ("R" if x["retrain"] else "")
            cells.append("+".join(s[:4] for s in x["breached"]) + mark or "-")
        print(f"| {name} | {len(results)} | {sum(bool(x['breached']) for x in decisions)} | "
              f"{sum(len(x['alerts']) for x in decisions)} | {first if first is not None else 'never'} | "
              f"{retrain[0] if retrain else 'none'} | {' '.join(cells)} |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="window rows (the reference has 1,000)")
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dims", type=int, default=384, help="embedding size (384, as all-MiniLM-L6-v2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--streams", action="store_true",
                        help="instead: the false-alarm and detection figures on the demo streams")
    args = parser.parse_args(argv)
    if args.streams:
        streams()
        return

    monitoring = demo_monitoring(args.seed, dims=args.dims)
    windows = {
        "same distribution": monitoring.window(same_distribution_stream(args.seed + 10, args.rows),
                                               labelled_every=3),
        "drifted (chat)": monitoring.window(chat_stream(args.seed + 10, args.rows), labelled_every=3),
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# drift_check  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"# cpus={os.cpu_count()} load_avg_1min={load:.2f} python={platform.python_version()} "
          f"numpy={np.__version__} scipy={scipy.__version__} scikit-learn={sklearn.__version__}")
    print(f"# reference={len(monitoring.reference['texts'])} window={args.rows} "
          f"permutations={args.permutations} dims={args.dims} repeats={args.repeats} (best / median seconds)")
    parts = ("text", "embedding", "output", "performance", "total")
    print("| window | " + " | ".join(parts) + " | text AUC (p) | MMD² (p) | breached |")
    print("|---|" + "---|" * (len(parts) + 3))
    for name, window in windows.items():
        runs = _time(monitoring, window, permutations=args.permutations, repeats=args.repeats)
        cells = [f"{min(r[p] for r in runs):.2f} / {statistics.median(r[p] for r in runs):.2f}"
                 for p in parts]
        signals = runs[0]["result"]["signals"]
        text, embedding = signals["text"], signals["embedding"]
        print(f"| {name} | " + " | ".join(cells) + f" | {text['auc']:.3f} ({text['p_value']:.3f}) "
              f"| {embedding['mmd2']:.4f} ({embedding['p_value']:.3f}) "
              f"| {', '.join(runs[0]['result']['breached']) or 'none'} |")
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# load_avg_1min at the end: {load_after:.2f}")


if __name__ == "__main__":
    main()
