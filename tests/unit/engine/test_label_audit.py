"""Label audit: out-of-fold probabilities, confident-learning ranking, the blind audit sample, its scoring.

The planted-flip experiment: 1,000 demo tickets, 50 labels (5%) flipped to another class with a seeded RNG.
Measured over demo seeds 0-9 (word + character TF-IDF, logistic regression C=30, 5 folds, class-relative
self-confidence; demo data as of 2026-11-24): the ranking puts 33-44 of the 50 flips (mean 38.7) in its
top 10%, against 5 for a random order; the 50-item flagged part of a 100-item audit catches 25-35 (mean
27.1, i.e. precision and recall both ~54%), the 50-item random part 1-3 (mean 1.9). The demo data is
deliberately hard (out-of-fold accuracy ~0.73; it ships ~2% wrong labels and ~6% mixed-intent tickets of its
own, which compete with the planted flips for the flagged slots). The thresholds below, checked on demo
seed 7 (measured: 39 and 26), sit below the worst seed measured (33 and 25).
"""

import math
import random

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from demo.generate import LABELS
from tests.unit.engine.conftest import planted_flips
from workers.engine.label_audit import (
    audit_results,
    cohen_kappa,
    out_of_fold_probabilities,
    rank_label_issues,
    select_audit_sample,
    wilson_interval,
)

FLIPS = 50


@pytest.fixture(scope="module")
def planted():
    texts, labels, noisy, flips = planted_flips(seed=7, rows=1000, flips=FLIPS)
    probs, classes = out_of_fold_probabilities(texts, noisy, folds=5, seed=0)
    return {
        "texts": texts,
        "truth": labels,
        "noisy": noisy,
        "flips": flips,
        "probs": probs,
        "classes": classes,
    }


def test_out_of_fold_probabilities_shape_and_classes(planted):
    probs, classes = planted["probs"], planted["classes"]
    assert classes == sorted(LABELS)
    assert probs.shape == (1000, len(LABELS))
    assert np.allclose(probs.sum(axis=1), 1.0)
    accuracy = np.mean(np.array(classes)[probs.argmax(axis=1)] == np.array(planted["truth"]))
    assert accuracy > 0.55  # a real (if modest) model, not noise: chance is ~0.19


def test_ranking_puts_planted_flips_at_the_top(planted):
    ranking = rank_label_issues(planted["noisy"], planted["probs"], planted["classes"])
    assert sorted(ranking) == list(range(1000))
    caught = sum(1 for i in ranking[:100] if i in planted["flips"])
    assert caught >= 0.6 * FLIPS, f"only {caught}/{FLIPS} flips in the top 10%"


def test_flagged_part_finds_far_more_flips_than_the_random_part(planted):
    items = select_audit_sample(
        planted["noisy"], planted["probs"], planted["classes"], size=100, random_fraction=0.5, seed=0
    )
    flagged = [it["index"] for it in items if it["part"] == "flagged"]
    random_part = [it["index"] for it in items if it["part"] == "random"]
    assert len(flagged) == len(random_part) == 50
    hits_flagged = sum(1 for i in flagged if i in planted["flips"])
    hits_random = sum(1 for i in random_part if i in planted["flips"])
    assert hits_flagged >= 22
    assert hits_flagged >= 3 * max(hits_random, 1)
    # An auditor who knows the truth: every planted flip in the sample shows up as a disagreement.
    answered = [
        {**it, "original": planted["noisy"][it["index"]], "answer": planted["truth"][it["index"]]}
        for it in items
    ]
    result = audit_results(answered)
    assert result["flagged_n"] == 50 and result["random_n"] == 50
    assert result["flagged_precision"] == pytest.approx(hits_flagged / 50)
    assert result["agreement"] == pytest.approx(1 - hits_random / 50)
    assert {d["index"] for d in result["disagreements"]} == {
        i for i in flagged + random_part if i in planted["flips"]
    }


def test_on_otherwise_clean_labels_the_flagged_part_finds_most_planted_flips():
    """The issue's experiment as stated: a dataset whose only wrong labels are 5% planted flips.

    Measured over demo seeds 0-9 (the same texts as above with the demo's own slips undone): the 50-item
    flagged part catches 28-37 of the 50 flips (mean 32.1, i.e. precision and recall 64%); seed 7: 32.
    """
    texts, _, noisy, flips = planted_flips(seed=7, rows=1000, flips=FLIPS, clean_labels=True)
    probs, classes = out_of_fold_probabilities(texts, noisy, folds=5, seed=0)
    items = select_audit_sample(noisy, probs, classes, size=100, random_fraction=0.5, seed=0)
    caught = sum(1 for it in items if it["part"] == "flagged" and it["index"] in flips)
    assert caught > FLIPS // 2, f"the flagged part caught {caught} of {FLIPS} flips: not most of them"


def test_embeddings_join_the_ranking_through_a_probe_on_the_same_folds(planted):
    """Embeddings that carry the true class (one-hot plus noise, standing in for a good encoder) must
    lift the flagged part's catch: the probe's probabilities are averaged with TF-IDF's."""
    truth = planted["truth"]
    rng = np.random.default_rng(0)
    onehot = np.eye(len(LABELS))[[sorted(LABELS).index(label) for label in truth]]
    features = onehot + rng.normal(scale=0.6, size=onehot.shape)
    probs, classes = out_of_fold_probabilities(
        planted["texts"], planted["noisy"], folds=5, seed=0, features=features
    )
    assert probs.shape == planted["probs"].shape and np.allclose(probs.sum(axis=1), 1.0)

    def caught(p):
        items = select_audit_sample(planted["noisy"], p, classes, size=100, random_fraction=0.5, seed=0)
        return sum(1 for it in items if it["part"] == "flagged" and it["index"] in planted["flips"])

    assert caught(probs) >= caught(planted["probs"]) + 4  # measured: 33 against 26
    with pytest.raises(ValueError, match="feature rows"):
        out_of_fold_probabilities(planted["texts"], planted["noisy"], features=features[:10])


def test_folds_shrink_to_the_smallest_class():
    texts = [f"invoice charge refund {i}" for i in range(10)] + [
        "password reset locked",
        "login code never came",
    ]
    labels = ["billing"] * 10 + ["login"] * 2
    probs, classes = out_of_fold_probabilities(texts, labels, folds=5, seed=1)
    assert classes == ["billing", "login"] and probs.shape == (12, 2)
    with pytest.raises(ValueError, match="two classes"):
        out_of_fold_probabilities(["a", "b"], ["x", "x"])


def test_rank_label_issues_by_hand():
    classes = ["a", "b"]
    labels = ["a", "a", "a", "b", "b", "b"]
    probs = np.array(
        [
            [0.9, 0.1],  # confident, correct
            [0.2, 0.8],  # self-confidence 0.2 in class a: the most suspicious row
            [0.45, 0.55],
            [0.1, 0.9],
            [0.7, 0.3],  # self-confidence 0.3 in class b
            [0.35, 0.65],
        ]
    )
    # Class thresholds (mean self-confidence): t_a = mean(0.9, 0.2, 0.45) = 0.5167,
    # t_b = mean(0.9, 0.3, 0.65) = 0.6167. Scores: 1.742, 0.387, 0.871, 1.459, 0.486, 1.054.
    assert rank_label_issues(labels, probs, classes) == [1, 4, 2, 5, 3, 0]
    # Relative to its class: 0.5 in a class that averages 0.8 is more suspicious than 0.4 in a class that
    # averages 0.45, although 0.4 < 0.5 (plain self-confidence would order these rows 0, 1, 2, 3, 4, 5).
    labels = ["hard", "hard", "hard", "easy", "easy", "easy"]
    probs = np.array([[0.6, 0.4], [0.55, 0.45], [0.5, 0.5], [0.5, 0.5], [0.95, 0.05], [0.95, 0.05]])
    assert rank_label_issues(labels, probs, ["easy", "hard"]) == [3, 0, 1, 2, 4, 5]
    with pytest.raises(ValueError, match="not among the classes"):
        rank_label_issues(["a", "z"], probs[:2], classes)
    with pytest.raises(ValueError, match="shape"):
        rank_label_issues(labels, probs[:, :1], ["easy", "hard"])


def test_select_audit_sample_parts_cap_order_and_determinism():
    rng = np.random.default_rng(3)
    n = 60
    labels = ["a", "b", "c"] * 20
    probs = rng.dirichlet([1, 1, 1], size=n)
    classes = ["a", "b", "c"]
    items = select_audit_sample(labels, probs, classes, size=20, random_fraction=0.5, seed=4)
    assert items == select_audit_sample(labels, probs, classes, size=20, random_fraction=0.5, seed=4)
    assert items != select_audit_sample(labels, probs, classes, size=20, random_fraction=0.5, seed=5)
    indices = [it["index"] for it in items]
    assert len(indices) == len(set(indices)) == 20
    random_part = [it["index"] for it in items if it["part"] == "random"]
    flagged = [it["index"] for it in items if it["part"] == "flagged"]
    assert len(random_part) == 10 and len(flagged) == 10
    ranking = rank_label_issues(labels, probs, classes)
    expected_flagged = [i for i in ranking if i not in set(random_part)][:10]
    assert sorted(flagged) == sorted(expected_flagged)
    # Shuffled: the parts are not handed out as two blocks.
    parts = [it["part"] for it in items]
    assert parts != sorted(parts) and parts != sorted(parts, reverse=True)
    # Size is capped at the number of rows; all-random and all-flagged work.
    assert len(select_audit_sample(labels, probs, classes, size=500, seed=0)) == n
    assert {it["part"] for it in select_audit_sample(labels, probs, classes, size=9, random_fraction=1)} == {
        "random"
    }
    only_flagged = select_audit_sample(labels, probs, classes, size=9, random_fraction=0)
    assert sorted(it["index"] for it in only_flagged) == sorted(ranking[:9])
    with pytest.raises(ValueError):
        select_audit_sample(labels, probs, classes, random_fraction=1.5)


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_audit_results_by_hand():
    def item(index, part, original, answer):
        return {"index": index, "part": part, "original": original, "answer": answer}

    items = [item(i, "random", "a" if i % 2 else "b", "a" if i % 2 else "b") for i in range(8)]
    items += [item(8, "random", "a", "b"), item(9, "random", "b", "a")]  # 8/10 agree on the random part
    items += [item(10, "flagged", "a", "b"), item(11, "flagged", "b", "b"), item(12, "flagged", "a", "c")]
    items += [item(13, "flagged", "a", None)]  # not answered: skipped
    result = audit_results(items)
    assert result["random_n"] == 10 and result["agreement"] == pytest.approx(0.8)
    assert result["agreement_ci"][0] == pytest.approx(0.4902, abs=1e-4)
    assert result["agreement_ci"][1] == pytest.approx(0.9433, abs=1e-4)
    assert result["flagged_n"] == 3 and result["flagged_precision"] == pytest.approx(2 / 3)
    answered = items[:13]
    expected_kappa = cohen_kappa_score([i["original"] for i in answered], [i["answer"] for i in answered])
    assert result["kappa_all"] == pytest.approx(expected_kappa)  # over the whole, error-ranked, sample
    assert result["kappa"] == result["kappa_random"] == pytest.approx(0.6)  # random part: 2x2, po = 0.8, pe = 0.5
    assert result["error_rate"] == pytest.approx(0.2)  # 2 of the 10 random items disagree
    assert result["error_rate_ci"][0] == pytest.approx(1 - 0.9433, abs=1e-4)
    assert result["error_rate_ci"][1] == pytest.approx(1 - 0.4902, abs=1e-4)
    assert result["flagged_precision_ci"] == pytest.approx(list(wilson_interval(2, 3)))
    assert [d["index"] for d in result["disagreements"]] == [8, 9, 10, 12]
    assert result["disagreements"][2] == {"index": 10, "original": "a", "answer": "b", "part": "flagged"}
    assert result["answered_n"] == 13 and result["unanswered_n"] == 1


def test_kappa_matches_sklearn_and_degenerate_cases():
    rng = random.Random(0)
    a = [rng.choice("xyz") for _ in range(200)]
    b = [x if rng.random() < 0.7 else rng.choice("xyz") for x in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert cohen_kappa(["x"] * 5, ["x"] * 5) == 1.0  # one label, perfect: 0/0 read as perfect
    assert cohen_kappa(["x", "y"], ["y", "x"]) == pytest.approx(-1.0)
    assert cohen_kappa([], []) is None
    assert not math.isnan(
        audit_results([{"index": 0, "part": "random", "original": "x", "answer": "x"}])["kappa"]
    )


def test_audit_results_edge_cases():
    only_flagged = audit_results([{"index": 1, "part": "flagged", "original": "a", "answer": "a"}])
    assert only_flagged["agreement"] is None and only_flagged["agreement_ci"] is None
    assert only_flagged["flagged_precision"] == 0.0
    assert only_flagged["kappa"] is None and only_flagged["error_rate"] is None and only_flagged["error_rate_ci"] is None
    with pytest.raises(ValueError, match="part"):
        audit_results([{"index": 1, "part": "other", "original": "a", "answer": "a"}])
