"""Leakage scan: planted exact and near duplicates are found, nothing else is, and it scales (LSH)."""

import json
import random
import time

import numpy as np
import pytest
import torch

from demo.generate import generate
from workers.engine.leakage import embedding_near_duplicates, normalise, scan_leakage


def grams(text: str, k: int = 5) -> set[str]:
    """Independent, slow reference: the character k-gram set of the normalised text."""
    text = normalise(text)
    return {text[i : i + k] for i in range(len(text) - k + 1)} if len(text) >= k else {text}


def reference_jaccard(a: str, b: str) -> float:
    ga, gb = grams(a), grams(b)
    return len(ga & gb) / len(ga | gb)


def test_normalise():
    assert normalise("  Hello,   WORLD!!\n") == "hello world"
    assert normalise("Ｆｕｌｌ\u3000width — “quoted”… can't") == "full width quoted cant"
    assert normalise("Tab\tand\u00a0nbsp") == "tab and nbsp"
    assert normalise("?!...") == ""


@pytest.fixture(scope="module")
def demo_texts() -> list[str]:
    sample, _ = generate(seed=11, rows=2000, production_rows=10)
    # Keep one row per normalised text, so the base material holds no exact duplicates of its own.
    seen, texts = set(), []
    for row in sample:
        key = normalise(row["text"])
        if key not in seen:
            seen.add(key)
            texts.append(row["text"])
    return texts


def exact_variant(text: str, i: int) -> str:
    """Same text after normalisation: case, punctuation and whitespace changes only."""
    variants = [
        text.upper(),
        "  " + text.replace(",", "").replace(".", "!") + "  ",
        text.lower().replace(" ", "  "),
        f"{text}!!!",
        text.replace(".", " . ").title(),
    ]
    return variants[i % len(variants)]


def near_variant(text: str, rng: random.Random) -> str:
    """Two letters changed, far apart: a typo-level edit."""
    chars = list(text)
    letters = [i for i, c in enumerate(chars) if c.isalpha()]
    first = rng.choice(letters[: len(letters) // 3])
    second = rng.choice(letters[2 * len(letters) // 3 :])
    for i in (first, second):
        chars[i] = "x" if chars[i].lower() != "x" else "z"
    return "".join(chars)


def test_planted_exact_and_near_duplicates_are_all_found(demo_texts):
    rng = random.Random(5)
    train = demo_texts[:1400]
    test = list(demo_texts[1400:1900])
    long_train = [i for i, t in enumerate(train) if len(t) >= 180]
    sources = rng.sample(long_train, 10)
    planted_exact, planted_near = {}, {}
    for n, src in enumerate(sources[:5]):
        planted_exact[len(test)] = src
        test.append(exact_variant(train[src], n))
    for src in sources[5:]:
        variant = near_variant(train[src], rng)
        assert normalise(variant) != normalise(train[src])
        assert reference_jaccard(variant, train[src]) >= 0.85  # the plant really is a near duplicate
        planted_near[len(test)] = src
        test.append(variant)

    result = scan_leakage({"train": train, "test": test}, max_examples=1000)

    exact_found = {e["b_index"]: e["a_index"] for e in result["examples"] if e["kind"] == "exact"}
    near_found = {e["b_index"]: e for e in result["examples"] if e["kind"] == "near"}
    for b, a in planted_exact.items():
        assert b in exact_found and normalise(train[exact_found[b]]) == normalise(train[a])
    for b, a in planted_near.items():
        assert b in near_found, f"planted near duplicate of train[{a}] was missed"
        assert near_found[b]["similarity"] >= 0.85
    # No false positives: every other report is a genuine duplicate by the slow reference definition.
    for b, a in exact_found.items():
        assert normalise(test[b]) == normalise(train[a])
    for b, e in near_found.items():
        assert reference_jaccard(test[b], train[e["a_index"]]) >= 0.85
        assert e["a"] == train[e["a_index"]] and e["b"] == test[b]
    assert result["exact"]["train-test"] == len(exact_found) >= 5
    assert result["near"]["train-test"] == len(near_found) >= 5
    assert result["total_exact"] == result["exact"]["train-test"]
    assert result["rows"] == {"train": len(train), "test": len(test)}
    assert result["rate"] == pytest.approx((len(exact_found) + len(near_found)) / len(test))
    json.dumps(result, allow_nan=False)  # stored in a JSONField as is


def test_agrees_with_brute_force_on_demo_rows(demo_texts):
    """LSH is a shortcut, not a different answer: same findings as an all-pairs reference scan."""
    train, val = demo_texts[:300], demo_texts[300:450]
    rng = random.Random(2)
    val = val + [near_variant(t, rng) for t in rng.sample([t for t in train if len(t) > 150], 6)]
    train_norm = {normalise(t) for t in train}
    train_grams = [grams(t) for t in train]
    truth = set()
    for b, text in enumerate(val):
        if normalise(text) in train_norm:
            continue
        g = grams(text)
        if any(len(g & t) / len(g | t) >= 0.85 for t in train_grams):
            truth.add(b)
    result = scan_leakage({"train": train, "val": val}, max_examples=1000)
    found = {e["b_index"] for e in result["examples"] if e["kind"] == "near"}
    assert len(truth) >= 6
    assert found == truth


def test_clearly_different_texts_give_nothing():
    rng = random.Random(0)
    words = [f"w{i}x{j}" for i in range(40) for j in range(40)]
    splits = {
        name: [" ".join(rng.sample(words, 12)) for _ in range(300)] for name in ("train", "val", "test")
    }
    result = scan_leakage(splits)
    assert result["total_exact"] == result["total_near"] == 0
    assert result["rate"] == 0.0 and result["examples"] == []
    assert set(result["exact"]) == {"train-val", "train-test", "val-test"}


def test_counts_pairs_rate_and_ignores_within_split_duplicates():
    base = "the quarterly invoice shows a duplicate charge for the team plan this month"
    splits = {
        "test": ["Password reset email never arrives", "totally unrelated words here ok", "Another thing."],
        "train": [base, base.upper(), "my exported report is missing the last column of data"],
        "val": [base + "!", "something else entirely about calendars and meetings"],
    }
    result = scan_leakage(splits)
    assert list(result["rows"]) == ["train", "val", "test"]  # canonical order whatever the dict order
    assert result["exact"] == {"train-val": 1, "train-test": 0, "val-test": 0}
    assert result["near"] == {"train-val": 0, "train-test": 0, "val-test": 0}
    assert result["rate"] == pytest.approx(1 / 5)
    # The duplicate inside train is not leakage; a test row leaking only from val still counts.
    splits["test"].append("Something else entirely, about calendars and meetings!")
    result = scan_leakage(splits)
    assert result["exact"]["val-test"] == 1
    assert result["rate"] == pytest.approx(2 / 6)


def test_empty_texts_are_not_duplicates():
    result = scan_leakage({"train": ["", "...", "a real sentence here"], "test": ["", "!!", "another one"]})
    assert result["total_exact"] == 0 and result["total_near"] == 0


def test_deterministic_and_bad_parameters():
    splits = {"train": ["alpha beta gamma delta"] * 3, "test": ["Alpha beta gamma delta!", "zzz"]}
    assert scan_leakage(splits) == scan_leakage(splits)
    with pytest.raises(ValueError):
        scan_leakage(splits, near_threshold=0)
    with pytest.raises(ValueError):
        scan_leakage(splits, shingle=0)


def test_scales_without_comparing_all_pairs():
    """3 x 5,000 rows from a 34-word vocabulary: every text shares many shingles with thousands of others,
    the worst case for LSH bucket sizes. An all-pairs scan would be 75M comparisons."""
    rng = random.Random(1)
    vocab = [
        f"{a}{b}" for a in ("re", "co", "pa", "in", "ex", "de") for b in ("port", "mit", "tail", "voice")
    ]
    filler = ["the", "my", "is", "not", "please", "today", "again", "account", "with", "for"]

    def text() -> str:
        return " ".join(
            rng.choice(vocab if rng.random() < 0.5 else filler) for _ in range(rng.randint(8, 30))
        )

    splits = {name: [text() for _ in range(5000)] for name in ("train", "val", "test")}
    splits["test"][:20] = [t.upper() for t in splits["train"][:20]]
    start = time.perf_counter()
    result = scan_leakage(splits)
    elapsed = time.perf_counter() - start
    assert result["exact"]["train-test"] >= 20
    assert elapsed < 20, f"leakage scan of 15k rows took {elapsed:.1f}s"


def test_embedding_near_duplicates_numpy_and_torch_and_chunking():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 16))
    other = rng.normal(size=(50, 16))
    other[7] = train[3] * 2.5  # same direction: cosine 1
    other[9] = train[100] + rng.normal(scale=0.05, size=16)  # nearly the same
    other[11] = 0.0  # zero vector matches nothing
    found = embedding_near_duplicates(train, other, threshold=0.95)
    assert [(t, o) for t, o, _ in found] == [(3, 7), (100, 9)]
    assert found[0][2] == pytest.approx(1.0)
    assert found == embedding_near_duplicates(train, other, threshold=0.95, chunk_rows=3)
    as_torch = embedding_near_duplicates(torch.tensor(train), torch.tensor(other), threshold=0.95)
    assert [(t, o) for t, o, _ in as_torch] == [(3, 7), (100, 9)]
    assert embedding_near_duplicates(train, other[:0]) == []
    with pytest.raises(ValueError):
        embedding_near_duplicates(train, rng.normal(size=(3, 8)))
