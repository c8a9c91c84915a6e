"""Stratified splits: deterministic, disjoint, complete, stratified; bad input refused; split fingerprints."""

import hashlib
import json

import pytest

from workers.engine.splits import canonical_jsonl, split_sha256, stratified_split

SIZES = {"billing": 50, "login": 23, "bug": 11, "privacy": 7, "tiny": 3}
RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}


def dataset(sizes=SIZES):
    """Labels interleaved (not grouped), so index order says nothing about the label."""
    labels = []
    remaining = dict(sizes)
    while any(remaining.values()):
        for label in sizes:
            if remaining[label]:
                labels.append(label)
                remaining[label] -= 1
    texts = [f"ticket {i} about {label}" for i, label in enumerate(labels)]
    return texts, labels


def test_same_inputs_same_split_and_other_seed_other_split():
    texts, labels = dataset()
    first = stratified_split(texts, labels, seed=7, **RATIOS)
    second = stratified_split(list(texts), list(labels), seed=7, **RATIOS)
    assert first == second
    other = stratified_split(texts, labels, seed=8, **RATIOS)
    assert other != first
    # A different seed reshuffles rows but keeps the per-split sizes (allocation depends only on counts).
    assert {k: len(v) for k, v in other.items()} == {k: len(v) for k, v in first.items()}


def test_pinned_output_is_the_same_on_every_machine():
    """sha256-keyed order: no hash(), no set order, no numpy stream. Changing the algorithm changes this."""
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 3
    got = stratified_split(["x"] * 18, labels, train=0.8, val=0.1, test=0.1, seed=0)
    assert got == {
        "train": [0, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 15],
        "val": [7, 10, 17],
        "test": [1, 14, 16],
    }


def test_disjoint_complete_and_sorted():
    texts, labels = dataset()
    split = stratified_split(texts, labels, seed=3, **RATIOS)
    assert set(split) == {"train", "val", "test"}
    seen = [i for part in split.values() for i in part]
    assert len(seen) == len(set(seen)) == len(texts)
    assert sorted(seen) == list(range(len(texts)))
    for part in split.values():
        assert part == sorted(part)


@pytest.mark.parametrize("seed", [0, 1, 2, 99])
def test_each_class_is_split_in_the_ratios_within_one_row(seed):
    texts, labels = dataset()
    split = stratified_split(texts, labels, seed=seed, **RATIOS)
    for label, n in SIZES.items():
        # Where a quota is below one row, the one-row-per-split floor wins (checked separately below).
        floor_binds = n * min(RATIOS.values()) < 1
        for name, ratio in RATIOS.items():
            got = sum(1 for i in split[name] if labels[i] == label)
            assert got >= 1, (label, name)
            if not floor_binds:
                assert abs(got - ratio * n) <= 1.0 + 1e-9, (label, name, got, ratio * n)
    assert sum(1 for i in split["val"] if labels[i] == "tiny") == 1


def test_three_row_class_gets_one_row_per_split_even_with_skewed_ratios():
    texts, labels = dataset({"big": 100, "small": 3})
    split = stratified_split(texts, labels, train=0.9, val=0.05, test=0.05, seed=0)
    for name in ("train", "val", "test"):
        assert sum(1 for i in split[name] if labels[i] == "small") == 1


@pytest.mark.parametrize(
    "ratios, message",
    [
        ({"train": 0.8, "val": 0.1, "test": 0.2}, "sum to 1"),
        ({"train": 0.7, "val": 0.1, "test": 0.1}, "sum to 1"),
        ({"train": 1.0, "val": 0.0, "test": 0.0}, "must be positive"),
        ({"train": 1.2, "val": -0.1, "test": -0.1}, "must be positive"),
        ({"train": float("nan"), "val": 0.5, "test": 0.5}, "finite"),
    ],
)
def test_bad_ratios_raise(ratios, message):
    texts, labels = dataset()
    with pytest.raises(ValueError, match=message):
        stratified_split(texts, labels, seed=0, **ratios)


def test_ratio_sum_tolerance():
    texts, labels = dataset()
    stratified_split(texts, labels, train=0.7 + 5e-7, val=0.15, test=0.15, seed=0)  # within 1e-6: fine
    with pytest.raises(ValueError):
        stratified_split(texts, labels, train=0.7 + 5e-6, val=0.15, test=0.15, seed=0)


def test_class_with_fewer_than_three_rows_is_named():
    texts, labels = dataset({"billing": 20, "rare_intent": 2})
    with pytest.raises(ValueError, match="rare_intent"):
        stratified_split(texts, labels, seed=0, **RATIOS)


def test_mismatched_and_empty_inputs_raise():
    with pytest.raises(ValueError, match="labels"):
        stratified_split(["a", "b", "c"], ["x", "x"], seed=0, **RATIOS)
    with pytest.raises(ValueError, match="empty"):
        stratified_split([], [], seed=0, **RATIOS)


def test_split_sha256_is_canonical_and_changes_with_any_row():
    rows = [{"text": "Héllo wörld", "label": "billing"}, {"label": "login", "text": "can't sign in"}]
    expected = hashlib.sha256(
        "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    ).hexdigest()
    assert split_sha256(rows) == expected
    assert (
        canonical_jsonl(rows).decode("utf-8").splitlines()[0] == '{"label": "billing", "text": "Héllo wörld"}'
    )
    # Key order inside a row is irrelevant; row order, text and label are not.
    assert split_sha256([{"label": "billing", "text": "Héllo wörld"}, rows[1]]) == expected
    assert split_sha256(list(reversed(rows))) != expected
    assert split_sha256([{**rows[0], "text": "Hello wörld"}, rows[1]]) != expected
    assert split_sha256([{**rows[0], "label": "login"}, rows[1]]) != expected
    assert split_sha256(rows[:1]) != expected
