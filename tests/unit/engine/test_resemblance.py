"""Test-vs-production resemblance: length, vocabulary and label statistics, verdicts, two-sample test."""

import json

import numpy as np
import pytest
import torch

from demo.generate import generate
from workers.engine.resemblance import compare, embedding_two_sample, tokens


@pytest.fixture(scope="module")
def demo():
    sample, production = generate(seed=7, rows=600, production_rows=300)
    return sample, production


def test_demo_production_is_detected_as_shorter_with_other_words_and_labels(demo):
    sample, production = demo
    result = compare(
        [r["text"] for r in sample],
        [r["text"] for r in production],
        test_labels=[r["label"] for r in sample],
        prod_labels=[r["label"] for r in production],
    )
    length = result["length"]
    assert length["ks_pvalue"] < 1e-6
    assert length["prod_median"] < 0.67 * length["test_median"]
    assert length["prod_mean"] < length["test_mean"]
    assert result["vocab"]["oov_rate_tokens"] > 0.05
    assert result["labels"]["tvd"] > 0.05
    verdict = " | ".join(result["verdict"])
    assert "production texts are much shorter" in verdict and "KS p < 0.001" in verdict
    assert "wording never appears in the test set" in verdict
    assert "label mix differs" in verdict and "login_access" in verdict  # the demo's drifted class
    assert result["sizes"] == {"test": 600, "prod": 300}
    json.dumps(result, allow_nan=False)  # stored in a JSONField as is


def test_identical_samples_look_identical(demo):
    sample, _ = demo
    texts, labels = [r["text"] for r in sample], [r["label"] for r in sample]
    result = compare(texts, list(texts), test_labels=labels, prod_labels=list(labels))
    assert result["length"]["ks_statistic"] == 0.0
    assert result["length"]["ks_pvalue"] == pytest.approx(1.0)
    assert result["vocab"]["oov_rate_tokens"] == 0.0 and result["vocab"]["oov_rate_types"] == 0.0
    assert result["vocab"]["jaccard"] == 1.0
    assert result["labels"]["tvd"] == 0.0
    assert result["labels"]["chi2_pvalue"] == pytest.approx(1.0)
    assert result["verdict"] == [
        "no material difference found between test and production on length, vocabulary and label mix"
    ]


def test_vocabulary_and_label_statistics_by_hand():
    result = compare(
        ["a b c", "a b"],
        ["a d d", "e's"],
        test_labels=["x", "y"],
        prod_labels=["x", "x"],
    )
    vocab = result["vocab"]
    # production tokens: a, d, d, e's -> 3 of 4 unseen in test; types {a, d, e's} -> 2 of 3 unseen
    assert vocab["oov_rate_tokens"] == pytest.approx(3 / 4)
    assert vocab["oov_rate_types"] == pytest.approx(2 / 3)
    assert vocab["jaccard"] == pytest.approx(1 / 5)  # {a} / {a, b, c, d, e's}
    assert vocab["top_unseen"] == ["d", "e's"]
    labels = result["labels"]
    assert labels["test_share"] == {"x": 0.5, "y": 0.5} and labels["prod_share"] == {"x": 1.0, "y": 0.0}
    assert labels["tvd"] == pytest.approx(0.5)
    assert 0.0 <= labels["chi2_pvalue"] <= 1.0


def test_min_count_and_unlabelled_side():
    result = compare(["alpha alpha beta"], ["alpha beta gamma gamma"], vocab_min_count=2)
    # test vocabulary {alpha}; production vocabulary {gamma}; production tokens unseen: beta, gamma, gamma
    assert result["vocab"]["oov_rate_tokens"] == pytest.approx(3 / 4)
    assert result["vocab"]["oov_rate_types"] == 1.0
    assert result["labels"] is None
    only_one_side = compare(["a"], ["b"], test_labels=["x"])
    assert only_one_side["labels"] is None


def test_tokens_and_bad_input():
    assert tokens("Can't log-in, ugh!! 2FA_code") == ["can't", "log", "in", "ugh", "2fa", "code"]
    with pytest.raises(ValueError):
        compare([], ["x"])
    with pytest.raises(ValueError, match="labels"):
        compare(["a", "b"], ["c"], test_labels=["x"], prod_labels=["y"])


def test_embedding_two_sample_same_distribution_is_near_half():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(400, 16))
    order = rng.permutation(400)
    result = embedding_two_sample(vecs[order[:200]], vecs[order[200:]], folds=5, seed=0)
    assert 0.35 <= result["auc"] <= 0.65
    assert abs(result["z"]) < 3
    assert result["folds"] == 5 and len(result["auc_folds"]) == 5
    assert "indistinguishable" in result["interpretation"]


def test_embedding_two_sample_shifted_is_detected_and_accepts_torch():
    rng = np.random.default_rng(1)
    test = rng.normal(size=(200, 16))
    prod = rng.normal(size=(150, 16)) + 0.6
    result = embedding_two_sample(torch.tensor(test), torch.tensor(prod), seed=0)
    assert result["auc"] > 0.85
    assert "clearly different" in result["interpretation"]
    assert result == embedding_two_sample(test, prod, seed=0)  # deterministic, tensor or array
    json.dumps(result, allow_nan=False)
    with pytest.raises(ValueError):
        embedding_two_sample(test, rng.normal(size=(10, 8)))
