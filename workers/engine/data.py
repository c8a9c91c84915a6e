"""The only data shape training code accepts: a train split and a validation split, never a test split.

Play 3 fixes train/validation/test splits and forbids mixing them. The engine enforces the training side
of that rule structurally: every training function takes a ``TrainingData``, which has no field for a
test split and (being a frozen, slotted dataclass) cannot be given one. Test-set scoring (Play 5) runs
elsewhere, on a trained artifact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# report(step, metrics, progress): progress in [0, 1], non-decreasing. Whatever it raises propagates
# (the product raises to cancel a job).
ReportFn = Callable[[int, dict[str, float], float], None]


@dataclass(frozen=True, slots=True)
class Split:
    """Parallel lists of texts and their string labels."""

    texts: list[str]
    labels: list[str]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"split has {len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Train + validation splits and the ordered label set; the index of a label is its class id."""

    train: Split
    val: Split
    label_names: list[str]

    def __post_init__(self) -> None:
        if len(set(self.label_names)) != len(self.label_names):
            raise ValueError("label_names must be unique")
        if len(self.label_names) < 2:
            raise ValueError("need at least two labels")
        for name, split in (("train", self.train), ("val", self.val)):
            if len(split) == 0:
                raise ValueError(f"the {name} split is empty")
            unknown = sorted(set(split.labels) - set(self.label_names))
            if unknown:
                raise ValueError(f"the {name} split has labels not in label_names: {unknown}")

    def label_ids(self, split: Split) -> np.ndarray:
        """Class ids (int64) of ``split``'s labels, indexed by ``label_names``."""
        index = {name: i for i, name in enumerate(self.label_names)}
        return np.asarray([index[label] for label in split.labels], dtype=np.int64)


def require_training_data(data: object) -> TrainingData:
    """``data`` if it is a TrainingData, else TypeError (a duck-typed object could smuggle a test split)."""
    if not isinstance(data, TrainingData):
        raise TypeError(f"training code accepts only TrainingData, got {type(data).__name__}")
    return data
