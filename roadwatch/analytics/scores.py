"""Binary classification figures from predictions (pure): counted from lists or, vectorised, from arrays."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    @classmethod
    def of(cls, truth: list[bool], predicted: list[bool]) -> Confusion:
        pairs = list(zip(truth, predicted, strict=True))
        return cls(
            tp=sum(t and p for t, p in pairs),
            fp=sum(p and not t for t, p in pairs),
            tn=sum(not t and not p for t, p in pairs),
            fn=sum(t and not p for t, p in pairs),
        )

    @classmethod
    def of_arrays(cls, truth: npt.NDArray[np.bool_], predicted: npt.NDArray[np.bool_]) -> Confusion:
        """The counts of two boolean arrays of one length (vectorised `of`)."""
        if truth.shape != predicted.shape:
            raise ValueError(f"truth {truth.shape} and predicted {predicted.shape} differ in shape")
        tp = int(np.count_nonzero(truth & predicted))
        fp = int(np.count_nonzero(predicted & ~truth))
        fn = int(np.count_nonzero(truth & ~predicted))
        return cls(tp=tp, fp=fp, tn=len(truth) - tp - fp - fn, fn=fn)

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.total if self.total else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def mcc(self) -> float:
        """Matthews correlation coefficient; 0.0 when any margin is empty."""
        denom = math.sqrt(
            (self.tp + self.fp) * (self.tp + self.fn) * (self.tn + self.fp) * (self.tn + self.fn)
        )
        return (self.tp * self.tn - self.fp * self.fn) / denom if denom else 0.0

    def as_dict(self, digits: int = 4) -> dict[str, float | int]:
        """The counts and the figures, rounded to `digits`."""
        figures = {
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "mcc": self.mcc,
        }
        return {
            "labelled": self.total,
            **{k: round(v, digits) for k, v in figures.items()},
            "tp": self.tp,
            "fp": self.fp,
            "tn": self.tn,
            "fn": self.fn,
        }
