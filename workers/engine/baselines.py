"""Play 1 baselines: the cheapest models worth comparing against, scored by stratified cross-validation.

Two baselines are computed for a text-classification dataset:

* ``majority`` predicts the most frequent class of its training data (the floor any model must clear);
* ``tfidf_logreg`` is word 1-2 gram TF-IDF + logistic regression (the cheapest real model).
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from workers.engine.metrics import DIRECTIONS, classification_metrics
from workers.engine.spread import LATENCY_BATCH, fold_scores, measure_latency

ReportFn = Callable[[int, dict[str, float], float], None]

BASELINE_NAMES = ("majority", "tfidf_logreg")


class _TextClassifier(Protocol):
    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> _TextClassifier: ...

    def predict(self, texts: Sequence[str]) -> list[str]: ...


class MajorityClassifier:
    """Predicts the most frequent training label; ties go to the alphabetically first label."""

    def __init__(self) -> None:
        self.label_: str | None = None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> MajorityClassifier:
        counts = Counter(labels)
        self.label_ = min(counts, key=lambda label: (-counts[label], label))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        if self.label_ is None:
            raise RuntimeError("MajorityClassifier.predict called before fit")
        return [self.label_] * len(texts)


class TfidfLogRegClassifier:
    """Word 1-2 gram TF-IDF (sublinear tf) feeding a multinomial logistic regression."""

    def __init__(self) -> None:
        self.pipeline = Pipeline(
            [
                ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
                ("logreg", LogisticRegression(max_iter=1000, class_weight=None)),
            ]
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TfidfLogRegClassifier:
        self.pipeline.fit(list(texts), list(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(label) for label in self.pipeline.predict(list(texts))]


_FACTORIES: dict[str, Callable[[], _TextClassifier]] = {
    "majority": MajorityClassifier,
    "tfidf_logreg": TfidfLogRegClassifier,
}


def _choose_folds(labels: Sequence[str], folds: int) -> int:
    """Folds actually usable: every class needs at least one example per fold."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    counts = Counter(labels)
    if len(counts) < 2:
        raise ValueError("baselines need at least two distinct labels")
    too_small = sorted(label for label, count in counts.items() if count < 2)
    if too_small:
        raise ValueError(
            f"every label needs at least 2 examples for cross-validation; too few for: {', '.join(too_small)}"
        )
    return min(folds, max(2, min(counts.values())))


def _latency(model: _TextClassifier, texts: Sequence[str], seed: int) -> dict[str, Any]:
    """Repeated one-at-a-time prediction timings on a fixed, seeded batch of the texts (see
    ``spread.measure_latency``): median and spread in ms per item, plus per-call p50/p95."""
    fixed = random.Random(seed).sample(list(texts), min(LATENCY_BATCH, len(texts)))
    return measure_latency(lambda text: model.predict([text]), fixed, batch=len(fixed))


def cv_splits(labels: Sequence[str], k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stratified, shuffled k folds every Play 1 baseline is scored on (the same for a given seed)."""
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(list(labels), list(labels)))


def run_baselines(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    positive_label: str | None = None,
    folds: int = 5,
    seed: int = 0,
    report: ReportFn | None = None,
) -> dict[str, Any]:
    """Score the majority and TF-IDF baselines with stratified k-fold cross-validation.

    Folds are reduced to max(2, smallest class count) when a class is smaller than ``folds``; a class with
    fewer than 2 examples raises ValueError. Out-of-fold predictions are pooled and scored with
    ``classification_metrics``; each fold is also scored on its own and summarised per metric as
    ``folds_spread`` {metric: {mean, sd, min, max, n, values}} (``spread.fold_scores``). Latency is measured
    afterwards on a model fitted to all rows: repeated timings of a fixed batch, as ``latency`` {median_ms,
    p25_ms, p75_ms, p10_ms, p90_ms, repeats, batch, warmup} with per-call p50/p95_latency_ms alongside.
    ``report(step, metrics, progress)`` is called after each fold of each baseline and once more with
    progress 1.0; anything it raises (e.g. a cancellation) propagates. Everything except the latency
    numbers is deterministic for a given ``seed``.

    Returns {"folds", "rows", "labels", "baselines": {name: metrics + folds_spread + latency +
    p50/p95_latency_ms}, "seed"}.
    """
    if len(texts) != len(labels):
        raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
    texts = [str(t) for t in texts]
    labels = [str(label) for label in labels]
    k = _choose_folds(labels, folds)
    splits = cv_splits(labels, k, seed)

    total_steps = len(BASELINE_NAMES) * k + 1
    step = 0
    results: dict[str, dict[str, Any]] = {}
    for name in BASELINE_NAMES:
        oof: list[str] = [""] * len(texts)
        for train_idx, test_idx in splits:
            model = _FACTORIES[name]().fit([texts[i] for i in train_idx], [labels[i] for i in train_idx])
            predicted = model.predict([texts[i] for i in test_idx])
            for i, pred in zip(test_idx, predicted):
                oof[i] = pred
            step += 1
            if report is not None:
                fold = classification_metrics([labels[i] for i in test_idx], predicted)
                report(
                    step,
                    {"fold_macro_f1": fold["macro_f1"], "fold_accuracy": fold["accuracy"]},
                    step / total_steps,
                )
        scores = classification_metrics(labels, oof, positive_label=positive_label)
        scores["folds_spread"] = fold_scores(labels, oof, splits, positive_label=positive_label)
        full_model = _FACTORIES[name]().fit(texts, labels)
        latency = _latency(full_model, texts, seed)
        scores["p50_latency_ms"], scores["p95_latency_ms"] = latency["p50_latency_ms"], latency["p95_latency_ms"]
        scores["latency"] = latency
        results[name] = scores

    if report is not None:
        summary = {
            f"{name}_{metric}": results[name][metric]
            for name in results
            for metric in ("macro_f1", "accuracy")
        }
        report(step + 1, summary, 1.0)

    return {
        "folds": k,
        "rows": len(texts),
        "labels": sorted(set(labels)),
        "baselines": results,
        "seed": seed,
    }


def best_baseline(result: dict[str, Any], *, metric: str, direction: str) -> tuple[str, float]:
    """Name and value of the best baseline on ``metric`` in a ``run_baselines`` result (None values skipped).

    Ties keep the first baseline in result order (the simpler one). Raises ValueError on an unknown
    direction or when no baseline has a value for ``metric``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; expected one of {DIRECTIONS}")
    best: tuple[str, float] | None = None
    for name, scores in result["baselines"].items():
        value = scores.get(metric)
        if value is None:
            continue
        if best is None or (value > best[1] if direction == "higher" else value < best[1]):
            best = (name, float(value))
    if best is None:
        raise ValueError(f"no baseline has a value for metric {metric!r}")
    return best


def refit_and_predict(train_texts: Sequence[str], train_labels: Sequence[str], test_texts: Sequence[str],
                      label_names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Play 5's baselines: each Play 1 baseline refit on the sealed train split and run on the test rows, so
    it is scored on the same rows as the candidate (Play 1's cross-validated figures are not comparable).
    Returns {name: {"predictions": [label, …], "probabilities": (n, k) array in ``label_names`` order,
    "predict": the fitted model's predict(texts) (for timing it)}}."""
    label_names = list(label_names)
    index = {label: i for i, label in enumerate(label_names)}
    if unknown := sorted(set(train_labels) - set(index)):
        raise ValueError(f"training labels not in label_names: {unknown}")
    out: dict[str, dict[str, Any]] = {}
    majority = MajorityClassifier().fit(train_texts, train_labels)
    probabilities = np.zeros((len(test_texts), len(label_names)))
    probabilities[:, index[majority.label_]] = 1.0
    out["majority"] = {"predictions": majority.predict(test_texts), "probabilities": probabilities,
                       "predict": majority.predict}
    tfidf = TfidfLogRegClassifier().fit(train_texts, train_labels)
    fitted = tfidf.pipeline.predict_proba(list(test_texts))
    probabilities = np.zeros((len(test_texts), len(label_names)))
    for column, label in enumerate(tfidf.pipeline.classes_):
        probabilities[:, index[str(label)]] = fitted[:, column]
    out["tfidf_logreg"] = {"predictions": [label_names[i] for i in probabilities.argmax(axis=1)],
                           "probabilities": probabilities, "predict": tfidf.predict}
    return out
