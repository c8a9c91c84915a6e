"""The man-page monitoring set-up of bench/drift_check.py (--data manpages): its parts are disjoint, the
held-out package families and unseen sections stay out of the model's data, windows never repeat a text,
and rows from a section the model does not know never carry a label. Skipped where the machine has too few
man pages."""
import random

import numpy as np
import pytest

from bench.drift_check import (
    MAN_LABELS,
    MAN_SHIFTED_MIX,
    NEW_PACKAGES,
    manpage_data,
    manpage_monitoring,
    package_family,
    sampled_windows,
)
from bench.manpages import build


@pytest.fixture(scope="module")
def data():
    if len(build(per_class=10**6)) < 2_500:
        pytest.skip("too few man pages on this machine")
    return manpage_data(0)


def test_the_parts_are_disjoint_and_the_held_out_families_stay_out(data):
    parts = [data.train, data.validation, data.reference, data.pool, data.new_packages, data.unseen]
    texts = [row["text"].lower() for part in parts for row in part]
    assert len(texts) == len(set(texts))
    model_rows = data.train + data.validation + data.reference + data.pool
    assert not any(package_family(row) in NEW_PACKAGES for row in model_rows)
    assert all(package_family(row) in NEW_PACKAGES for row in data.new_packages)
    assert not any(row["label"] in MAN_LABELS for row in data.unseen)


def test_windows_never_repeat_a_text_and_follow_the_mix(data):
    rng = random.Random(0)
    rows = sampled_windows(data.pool, 3, 300, rng, mix=MAN_SHIFTED_MIX)
    for start in range(0, len(rows), 300):
        window = [row["text"] for row in rows[start:start + 300]]
        assert len(window) == len(set(window)) == 300
        share = sum(row["label"] == "man3" for row in rows[start:start + 300]) / 300
        assert share == pytest.approx(MAN_SHIFTED_MIX["man3"], abs=0.01)
    mixed = sampled_windows(data.pool, 1, 300, rng, extra=data.unseen, share=0.4)
    assert sum(row in data.unseen for row in mixed) == 120


def test_rows_of_an_unknown_section_carry_no_label(data):
    monitoring = manpage_monitoring(data, seed=0, dims=8)
    rows = data.unseen[:30] + data.pool[:30]
    logged = monitoring.window(rows, labelled_every=1)
    assert (logged["labels"][:30] == -1).all()
    assert (logged["labels"][30:] >= 0).all()
    assert logged["probs"].shape == (60, len(MAN_LABELS)) and np.isfinite(logged["probs"]).all()
