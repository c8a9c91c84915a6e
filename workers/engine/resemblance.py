"""Play 3: "the test set resembles real production inputs, not a sanitized subset".

``compare`` contrasts a test split with a sample of production inputs on three cheap, explainable axes:

* **length** in words: two-sample Kolmogorov-Smirnov test, means and medians;
* **vocabulary**: how much of production's wording the test set never shows (out-of-vocabulary rates by
  token and by type) and the Jaccard overlap of the two vocabularies;
* **labels** (when both sides are labelled): per-label shares, total variation distance and a chi-square
  test of homogeneity;

and writes a ``verdict``: short sentences a data owner can act on.

``embedding_two_sample`` is the catch-all: a classifier two-sample test on encoder embeddings. If logistic
regression can tell test rows from production rows (cross-validated ROC AUC well above 0.5), they differ
in some way the model will notice, whether or not the cheap statistics caught it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency, ks_2samp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

# Verdict thresholds (documented in ``compare``).
ALPHA = 0.01  # significance level for "differs"
MEDIAN_RATIO_MUCH = 1.5  # medians this far apart (either way) read as "much shorter/longer"
OOV_NOTABLE = 0.05  # share of production tokens unseen in test worth a sentence
OOV_HIGH = 0.15
TVD_NOTABLE = 0.05
AUC_SAME = 0.6
AUC_CLEAR = 0.75


def tokens(text: str) -> list[str]:
    """Lowercased word tokens: runs of letters/digits, keeping inner apostrophes ("don't")."""
    return _TOKEN.findall(str(text).lower())


def _p_text(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _length_section(test_texts: Sequence[str], prod_texts: Sequence[str]) -> dict[str, Any]:
    test_len = np.array([len(str(t).split()) for t in test_texts], dtype=float)
    prod_len = np.array([len(str(t).split()) for t in prod_texts], dtype=float)
    ks = ks_2samp(test_len, prod_len)
    return {
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "test_mean": float(test_len.mean()),
        "prod_mean": float(prod_len.mean()),
        "test_median": float(np.median(test_len)),
        "prod_median": float(np.median(prod_len)),
    }


def _vocab_section(test_texts: Sequence[str], prod_texts: Sequence[str], min_count: int) -> dict[str, Any]:
    test_counts = Counter(tok for t in test_texts for tok in tokens(t))
    prod_counts = Counter(tok for t in prod_texts for tok in tokens(t))
    test_vocab = {w for w, c in test_counts.items() if c >= min_count}
    prod_vocab = {w for w, c in prod_counts.items() if c >= min_count}
    prod_tokens = sum(prod_counts.values())
    unseen_tokens = sum(c for w, c in prod_counts.items() if w not in test_vocab)
    unseen_types = sorted(prod_vocab - test_vocab, key=lambda w: (-prod_counts[w], w))
    union = test_vocab | prod_vocab
    return {
        "oov_rate_tokens": unseen_tokens / prod_tokens if prod_tokens else 0.0,
        "oov_rate_types": len(unseen_types) / len(prod_vocab) if prod_vocab else 0.0,
        "jaccard": len(test_vocab & prod_vocab) / len(union) if union else 1.0,
        "test_types": len(test_vocab),
        "prod_types": len(prod_vocab),
        "top_unseen": unseen_types[:10],
    }


def _label_section(test_labels: Sequence[str], prod_labels: Sequence[str]) -> dict[str, Any]:
    test_counts, prod_counts = Counter(test_labels), Counter(prod_labels)
    labels = sorted(set(test_counts) | set(prod_counts), key=str)
    n_test, n_prod = len(test_labels), len(prod_labels)
    test_share = {label: test_counts[label] / n_test for label in labels}
    prod_share = {label: prod_counts[label] / n_prod for label in labels}
    tvd = 0.5 * sum(abs(test_share[label] - prod_share[label]) for label in labels)
    if len(labels) >= 2:
        table = np.array([[test_counts[label] for label in labels], [prod_counts[label] for label in labels]])
        chi2, p, dof, _ = chi2_contingency(table)
        chi2, p = float(chi2), float(p)
    else:  # one label on both sides: nothing can differ
        chi2, p, dof = 0.0, 1.0, 0
    shifts = sorted(
        (
            {
                "label": label,
                "test": test_share[label],
                "prod": prod_share[label],
                "diff": prod_share[label] - test_share[label],
            }
            for label in labels
        ),
        key=lambda s: (-abs(s["diff"]), str(s["label"])),
    )
    return {
        "labels": labels,
        "test_share": test_share,
        "prod_share": prod_share,
        "tvd": tvd,
        "chi2": chi2,
        "chi2_pvalue": p,
        "dof": int(dof),
        "unseen_in_test": [label for label in labels if test_counts[label] == 0],
        "shifts": shifts,
    }


def _verdict(length: dict[str, Any], vocab: dict[str, Any], label: dict[str, Any] | None) -> list[str]:
    findings: list[str] = []
    tm, pm = length["test_median"], length["prod_median"]
    p = length["ks_pvalue"]
    if p < ALPHA:
        ratio = (pm / tm) if tm > 0 else math.inf
        medians = f"median {_num(pm)} vs {_num(tm)} words; KS {_p_text(p)}"
        if ratio <= 1 / MEDIAN_RATIO_MUCH:
            findings.append(f"production texts are much shorter ({medians})")
        elif ratio >= MEDIAN_RATIO_MUCH:
            findings.append(f"production texts are much longer ({medians})")
        else:
            findings.append(
                "text lengths are distributed differently "
                f"(KS D = {length['ks_statistic']:.2f}, {_p_text(p)}; median {_num(pm)} vs {_num(tm)} words)"
            )
    oov = vocab["oov_rate_tokens"]
    if oov >= OOV_NOTABLE:
        strength = "much of" if oov >= OOV_HIGH else "some of"
        examples = ", ".join(f'"{w}"' for w in vocab["top_unseen"][:5])
        findings.append(
            f"{strength} production's wording never appears in the test set: {_pct(oov)} of production words "
            f"and {_pct(vocab['oov_rate_types'])} of distinct words are unseen"
            + (f" (e.g. {examples})" if examples else "")
        )
    if label is not None:
        if label["unseen_in_test"]:
            names = ", ".join(map(str, label["unseen_in_test"]))
            findings.append(f"production has labels the test set lacks entirely: {names}")
        if label["chi2_pvalue"] < ALPHA and label["tvd"] >= TVD_NOTABLE:
            top = ", ".join(
                f"{s['label']} {_pct(s['test'])} → {_pct(s['prod'])}"
                for s in label["shifts"][:3]
                if s["diff"]
            )
            findings.append(
                f"the label mix differs (total variation {label['tvd']:.2f}, chi-square "
                f"{_p_text(label['chi2_pvalue'])}): {top} (test → production)"
            )
    if not findings:
        checked = "length, vocabulary and label mix" if label is not None else "length and vocabulary"
        findings.append(f"no material difference found between test and production on {checked}")
    return findings


def compare(
    test_texts: Sequence[str],
    prod_texts: Sequence[str],
    *,
    test_labels: Sequence[str] | None = None,
    prod_labels: Sequence[str] | None = None,
    vocab_min_count: int = 1,
) -> dict[str, Any]:
    """Does the test set look like production? Plain statistics plus a readable verdict.

    Returns {"sizes": {"test", "prod"}, "length": {ks_statistic, ks_pvalue, test_mean, prod_mean,
    test_median, prod_median} (words = whitespace-separated), "vocab": {oov_rate_tokens (share of production
    tokens whose word is not in the test vocabulary), oov_rate_types (share of production's vocabulary not in
    the test vocabulary), jaccard, test_types, prod_types, top_unseen}, "labels": {labels, test_share,
    prod_share, tvd, chi2, chi2_pvalue, dof, unseen_in_test, shifts} or None, "verdict": [str]}.

    A word is in a side's vocabulary when it occurs there at least ``vocab_min_count`` times (tokens are
    lowercased letter/digit runs). Labels are compared only when both label lists are given. Verdict rules:
    lengths are reported when KS p < 0.01 (as "much shorter/longer" when medians differ by 1.5x or more);
    vocabulary when >= 5% of production tokens are unseen; labels when chi-square p < 0.01 and total
    variation >= 0.05, or when production has a label the test set lacks.
    """
    if not test_texts or not prod_texts:
        raise ValueError("compare needs at least one test text and one production text")
    if vocab_min_count < 1:
        raise ValueError(f"vocab_min_count must be >= 1, got {vocab_min_count}")
    for name, texts, labels in (("test", test_texts, test_labels), ("production", prod_texts, prod_labels)):
        if labels is not None and len(labels) != len(texts):
            raise ValueError(f"{name} has {len(texts)} texts but {len(labels)} labels")
    length = _length_section(test_texts, prod_texts)
    vocab = _vocab_section(test_texts, prod_texts, vocab_min_count)
    label = (
        _label_section(test_labels, prod_labels)
        if test_labels is not None and prod_labels is not None
        else None
    )
    return {
        "sizes": {"test": len(test_texts), "prod": len(prod_texts)},
        "length": length,
        "vocab": vocab,
        "labels": label,
        "verdict": _verdict(length, vocab, label),
    }


def _as_matrix(vecs: Any) -> np.ndarray:
    if hasattr(vecs, "detach"):  # torch.Tensor
        vecs = vecs.detach().cpu().double().numpy()
    matrix = np.asarray(vecs, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D [rows, dims] array, got shape {matrix.shape}")
    return matrix


def _auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of a ROC AUC."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))


def embedding_two_sample(test_vecs: Any, prod_vecs: Any, *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Classifier two-sample test: can logistic regression tell test embeddings from production ones?

    Standardised features + L2 logistic regression (balanced class weights),
    ``StratifiedKFold(shuffle=True, random_state=seed)`` with ``folds`` lowered to the smaller sample size
    (min 2). Returns {"auc": mean ROC AUC over the held-out folds (production = positive), "auc_folds",
    "auc_pooled" (AUC of all out-of-fold scores together), "auc_se": Hanley-McNeil standard error at the
    full sample sizes, "z": (auc - 0.5) / se, "folds", "n_test", "n_prod", "interpretation"}.

    Reading (no permutation test; the standard error gives the noise scale): AUC < 0.6 - indistinguishable
    for practical purposes; 0.6-0.75 - some shift; >= 0.75 - clearly different. AUC below 0.5 is noise
    (cross-validation on identical distributions often lands a little under 0.5).
    """
    test = _as_matrix(test_vecs)
    prod = _as_matrix(prod_vecs)
    if test.shape[1] != prod.shape[1]:
        raise ValueError(f"dimension mismatch: test has {test.shape[1]}, production has {prod.shape[1]}")
    if len(test) < 2 or len(prod) < 2:
        raise ValueError("embedding_two_sample needs at least 2 rows on each side")
    x = np.vstack([test, prod])
    y = np.concatenate([np.zeros(len(test), dtype=int), np.ones(len(prod), dtype=int)])
    k = max(2, min(folds, len(test), len(prod)))
    scores = np.zeros(len(y))
    fold_aucs: list[float] = []
    with threadpool_limits(limits=1):
        for train_idx, test_idx in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y):
            model = make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")
            )
            model.fit(x[train_idx], y[train_idx])
            scores[test_idx] = model.decision_function(x[test_idx])
            if len(set(y[test_idx].tolist())) == 2:
                fold_aucs.append(float(roc_auc_score(y[test_idx], scores[test_idx])))
    # Per-fold models differ in scale, so the mean of fold AUCs is the headline; pooled is kept for reference.
    pooled = float(roc_auc_score(y, scores))
    auc = float(np.mean(fold_aucs)) if fold_aucs else pooled
    se = _auc_standard_error(auc, len(prod), len(test))
    z = (auc - 0.5) / se if se > 0 else 0.0
    if auc < AUC_SAME:
        reading = "indistinguishable for practical purposes: a classifier cannot tell test from production"
    elif auc < AUC_CLEAR:
        reading = "some shift: a classifier tells test from production apart better than chance"
    else:
        reading = "clearly different: a classifier separates test from production easily"
    noise = "within noise of 0.5" if abs(z) < 2 else "beyond noise of 0.5"
    return {
        "auc": auc,
        "auc_folds": fold_aucs,
        "auc_pooled": pooled,
        "auc_se": se,
        "z": z,
        "folds": k,
        "n_test": len(test),
        "n_prod": len(prod),
        "interpretation": f"AUC {auc:.2f} (± {se:.2f}, {noise}): {reading}",
    }
