"""Play 3: "labels are consistent and audited by a second person on a sample".

The audit has three steps:

1. ``out_of_fold_probabilities``: every row is scored by a TF-IDF + logistic regression model that never saw
   it (stratified k-fold), so a row's own, possibly wrong, label cannot vouch for itself. The TF-IDF joins
   word 1-2 grams and character 2-5 grams (within words), which also catch misspellings and word forms.
2. ``rank_label_issues`` orders rows by how likely their label is wrong, using confident learning's
   (Northcutt et al. 2021) per-class thresholds: a row's self-confidence (probability of its given label)
   relative to the average self-confidence of its class, lowest first. ``select_audit_sample`` builds the
   sample a second person relabels *blind*: a uniform random part, which gives an unbiased agreement
   estimate, plus the top of the ranking, which finds errors efficiently. The two parts are shuffled
   together so the auditor cannot tell which items were flagged.
3. ``audit_results`` turns the auditor's answers into agreement (with a 95% Wilson interval) and Cohen's
   kappa on the random part only, the estimated label-error rate of the whole dataset (the random part is a
   uniform sample: its disagreement rate, with a Wilson interval), and, on its own, the precision of the
   flags. The flagged part is chosen for likely errors, so it never enters the consistency figures: the
   better the ranking works, the more it disagrees, which says nothing about the labels as a whole.

Measured on 1,000 demo tickets with 50 planted flips (5%), demo seeds 0-9, the 50-item flagged part of a
100-item audit: on otherwise clean labels it catches 28-37 flips (mean 32.1: precision and recall 64%);
on the demo's shipped labels, which carry ~2% slips of their own, 25-35 planted flips (mean 27.1) and 35-44
wrong labels of either kind (mean 37.7, precision 75%). Word n-grams alone with confident learning's
"candidates first" ordering, which this module used before, caught 20-25 planted flips (mean 22.4) there.
With all-MiniLM-L6-v2 embeddings averaged in (``features``), the flagged part catches 32-41 (mean 38.2) on
clean labels and 29-36 (mean 32.1) on the shipped ones.

Confident learning is implemented here with scikit-learn rather than taken from ``cleanlab``, to avoid a
dependency for ~40 lines of arithmetic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits

Z_95 = 1.959963984540054  # two-sided 95% normal quantile
PARTS = ("random", "flagged")
# Inverse regularisation strength. TF-IDF rows are sparse unit vectors, and sklearn's default C=1 underfits
# them: on the demo tickets (1,000 rows, 7 classes) out-of-fold accuracy is 0.62 at C=1 vs 0.70 at C=30,
# and the flatter probabilities at C=1 blur the per-class thresholds confident learning relies on.
LOGREG_C = 30.0
# The encoder probe's strength: the bake-off's linear probe uses the same on L2-normalised embeddings.
PROBE_C = 10.0


def _classifier() -> Pipeline:
    tfidf = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    return Pipeline([("tfidf", tfidf), ("logreg", LogisticRegression(C=LOGREG_C, max_iter=3000))])


def out_of_fold_probabilities(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    features: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold class probabilities [n, k] and the class order (sorted labels).

    Word 1-2 gram and character 2-5 gram TF-IDF (sublinear tf) + logistic regression (C = ``LOGREG_C``),
    ``StratifiedKFold(shuffle=True, random_state=seed)``. With ``features`` (one sentence embedding per
    row, e.g. from the base model Play 2 chose), a logistic-regression probe on the L2-normalised
    embeddings (C = ``PROBE_C``) is cross-validated on the same folds and the two models' probabilities
    are averaged: the encoder knows paraphrases TF-IDF has never seen, TF-IDF knows the exact words.
    ``folds`` is lowered to the smallest class count (but never below 2); a class absent from some training
    fold gets probability 0 from that fold's model. Raises ValueError for mismatched lengths or fewer than
    two classes.
    """
    if len(texts) != len(labels):
        raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
    if features is not None and len(features) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(features)} feature rows")
    counts = Counter(labels)
    if len(counts) < 2:
        raise ValueError("label audit needs at least two classes")
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    classes = sorted(counts)
    column = {label: j for j, label in enumerate(classes)}
    y = np.array([column[label] for label in labels])
    k = max(2, min(folds, min(counts.values())))
    texts = list(texts)
    probs = np.zeros((len(texts), len(classes)), dtype=np.float64)
    embedded = None
    if features is not None:
        embedded = np.asarray(features, dtype=np.float64)
        embedded = embedded / np.maximum(np.linalg.norm(embedded, axis=1, keepdims=True), 1e-12)
        probe_probs = np.zeros_like(probs)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    # One BLAS thread: these matrices are small, and on a busy worker host competing BLAS threads made the
    # folds ~10x slower.
    with threadpool_limits(limits=1):
        for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
            model = _classifier().fit([texts[i] for i in train_idx], y[train_idx])
            seen = model.named_steps["logreg"].classes_
            probs[np.ix_(test_idx, seen)] = model.predict_proba([texts[i] for i in test_idx])
            if embedded is not None:
                probe = LogisticRegression(C=PROBE_C, max_iter=3000).fit(embedded[train_idx], y[train_idx])
                probe_probs[np.ix_(test_idx, probe.classes_)] = probe.predict_proba(embedded[test_idx])
    if embedded is not None:
        probs = (probs + probe_probs) / 2.0
    return probs, classes


def _given_columns(labels: Sequence[str], probs: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape != (len(labels), len(classes)):
        raise ValueError(f"probs must have shape ({len(labels)}, {len(classes)}), got {probs.shape}")
    column = {label: j for j, label in enumerate(classes)}
    unknown = sorted({label for label in labels if label not in column})
    if unknown:
        raise ValueError(f"labels not among the classes: {unknown}")
    return np.array([column[label] for label in labels], dtype=np.int64)


def rank_label_issues(labels: Sequence[str], probs: np.ndarray, classes: Sequence[str]) -> list[int]:
    """Row indices, most likely mislabelled first.

    Score = self-confidence (out-of-fold probability of the given label) divided by the class's threshold
    ``t_j``, the mean self-confidence over the rows labelled j (confident learning's per-class threshold).
    Dividing by ``t_j`` puts rows of a hard class on the same footing as rows of an easy one: 0.4 is
    suspicious where the class averages 0.9, ordinary where it averages 0.45. Lowest score first; ties keep
    index order. (Listing confident learning's "candidates" first, rows where another class beats its
    threshold, caught fewer planted flips on the demo tickets: see the module docstring.)
    """
    given = _given_columns(labels, probs, classes)
    p = np.asarray(probs, dtype=np.float64)
    n, k = p.shape
    if n == 0:
        return []
    self_conf = p[np.arange(n), given]
    thresholds = np.ones(k)
    for j in range(k):
        mine = given == j
        if mine.any():
            thresholds[j] = max(self_conf[mine].mean(), 1e-12)
    score = self_conf / thresholds[given]
    order = np.lexsort((np.arange(n), score))
    return [int(i) for i in order]


def select_audit_sample(
    labels: Sequence[str],
    probs: np.ndarray,
    classes: Sequence[str],
    *,
    size: int = 100,
    random_fraction: float = 0.5,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Items {"index", "part"} for a blind relabelling audit, in a seeded shuffled order.

    ``size`` is capped at the number of rows. The "random" part (``round(size * random_fraction)``, halves
    rounded up) is a uniform sample without replacement, for an unbiased agreement estimate; the "flagged"
    part is the rest, taken from the top of ``rank_label_issues`` skipping rows already in the random part.
    The final order is shuffled so the auditor cannot tell the parts apart (show only the text, never the
    part or the original label).
    """
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}")
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    ranking = rank_label_issues(labels, probs, classes)
    n = len(ranking)
    size = min(size, n)
    n_random = min(size, math.floor(size * random_fraction + 0.5))
    rng = np.random.default_rng(seed)
    random_part = [int(i) for i in rng.choice(n, size=n_random, replace=False)] if n_random else []
    taken = set(random_part)
    flagged_part: list[int] = []
    for index in ranking:
        if len(flagged_part) >= size - n_random:
            break
        if index not in taken:
            flagged_part.append(index)
    items = [{"index": i, "part": "random"} for i in random_part]
    items += [{"index": i, "part": "flagged"} for i in flagged_part]
    return [items[int(j)] for j in rng.permutation(len(items))]


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0.0, 1.0) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    phat = successes / n
    denom = 1.0 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes the bound is exactly 0 or 1; pin it instead of leaving 0.9999999999999999.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa between two raters (same as sklearn's ``cohen_kappa_score``, unweighted).

    Degenerate case: when chance agreement is 1 (both raters used one and the same label throughout) kappa
    is 0/0; we return 1.0 if the raters agree perfectly and 0.0 otherwise (so a perfect single-label audit
    does not read as "no better than chance"). None for no items.
    """
    if len(a) != len(b):
        raise ValueError(f"rater lists differ in length: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(1 for x, y in zip(a, b) if x == y) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in count_a) / (n * n)
    if expected >= 1.0 - 1e-12:
        return 1.0 if observed >= 1.0 - 1e-12 else 0.0
    return (observed - expected) / (1.0 - expected)


def _answered(answer: Any) -> bool:
    return answer is not None and not (isinstance(answer, str) and not answer.strip())


def audit_results(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Score a finished audit. Each item: {"index", "part": "random"|"flagged", "original", "answer"}.

    Items whose answer is None or blank are skipped (counted in "unanswered_n"). Returns:

    * "agreement": share of answered random-part items where answer == original (None if there are none),
      "agreement_ci": its 95% Wilson interval [lo, hi] (None likewise), "random_n";
    * "kappa": Cohen's kappa between original labels and answers over the answered random-part items (the
      unbiased figure; None if there are none), "kappa_random" the same value under an explicit name, and
      "kappa_all" over all answered items (flagged items are chosen for likely errors, so this one is
      pessimistic and only informative); see ``cohen_kappa`` for the single-label case;
    * "error_rate": the estimated share of wrong labels in the whole dataset, i.e. the share of answered
      random-part items where the auditor disagreed (the random part is a uniform sample), and
      "error_rate_ci" its 95% Wilson interval (None likewise);
    * "flagged_precision": share of answered flagged items where the auditor disagreed with the original
      label, i.e. the flag found a real error (None if none), "flagged_precision_ci" its 95% Wilson
      interval, "flagged_n";
    * "disagreements": [{"index", "original", "answer", "part"}] sorted by index; "answered_n",
      "unanswered_n".
    """
    answered = []
    unanswered = 0
    for item in items:
        part = item.get("part")
        if part not in PARTS:
            raise ValueError(f"item {item.get('index')!r} has part {part!r}; expected one of {PARTS}")
        if _answered(item.get("answer")):
            answered.append(item)
        else:
            unanswered += 1

    random_items = [it for it in answered if it["part"] == "random"]
    flagged_items = [it for it in answered if it["part"] == "flagged"]
    agree_random = sum(1 for it in random_items if it["answer"] == it["original"])
    agreement = agree_random / len(random_items) if random_items else None
    ci = list(wilson_interval(agree_random, len(random_items))) if random_items else None
    disagree_random = len(random_items) - agree_random
    kappa_random = cohen_kappa([it["original"] for it in random_items], [it["answer"] for it in random_items])
    flagged_wrong = sum(1 for it in flagged_items if it["answer"] != it["original"])
    disagreements = sorted(
        (
            {"index": it["index"], "original": it["original"], "answer": it["answer"], "part": it["part"]}
            for it in answered
            if it["answer"] != it["original"]
        ),
        key=lambda d: (d["index"], d["part"]),
    )
    return {
        "agreement": agreement,
        "agreement_ci": ci,
        "random_n": len(random_items),
        "kappa": kappa_random,
        "kappa_random": kappa_random,
        "kappa_all": cohen_kappa([it["original"] for it in answered], [it["answer"] for it in answered]),
        "error_rate": disagree_random / len(random_items) if random_items else None,
        "error_rate_ci": list(wilson_interval(disagree_random, len(random_items))) if random_items else None,
        "flagged_precision": flagged_wrong / len(flagged_items) if flagged_items else None,
        "flagged_precision_ci": list(wilson_interval(flagged_wrong, len(flagged_items))) if flagged_items else None,
        "flagged_n": len(flagged_items),
        "disagreements": disagreements,
        "answered_n": len(answered),
        "unanswered_n": unanswered,
    }
