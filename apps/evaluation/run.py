"""Run the configured cascade over labelled samples, without Kafka, and report accuracy and cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from apps.evaluation.dataset import Sample
from apps.evaluation.scores import Confusion
from roadwatch.images.inspect import ImageLimits, decode_rgb
from roadwatch.vision.scoring import Band, roadwork_score
from services.detector.pipeline import DetectorPipeline

# Decides an image the detector escalated: returns (roadwork, tier that decided).
Escalator = Callable[[np.ndarray, float, Sample], tuple[bool, str]]


@dataclass(frozen=True)
class EvalResult:
    confusion: Confusion
    escalated: int
    decided_by: dict[str, int]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        c = self.confusion
        return {
            "images": c.total,
            "accuracy": round(c.accuracy, 4),
            "precision": round(c.precision, 4),
            "recall": round(c.recall, 4),
            "mcc": round(c.mcc, 4),
            "escalation_rate": round(self.escalated / c.total, 4) if c.total else 0.0,
            "images_per_s": round(c.total / self.seconds, 2) if self.seconds else 0.0,
            "decided_by": self.decided_by,
            "tp": c.tp,
            "fp": c.fp,
            "tn": c.tn,
            "fn": c.fn,
        }


def evaluate(
    samples: list[Sample],
    detector: DetectorPipeline,
    band: Band,
    escalator: Escalator | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvalResult:
    """Detector first; an escalated image goes to `escalator` (the VLM tiers) or, without one, to the
    detection-only fallback (the band's midpoint)."""
    predicted: list[bool] = []
    escalated, decided_by = 0, dict[str, int]()
    started = time.perf_counter()
    for sample in samples:
        pixels = decode_rgb(sample.path.read_bytes(), ImageLimits())
        score = roadwork_score(detector.detect(pixels))
        decision = band.decide(score)
        if decision == "escalate":
            escalated += 1
            roadwork, tier = (
                escalator(pixels, score, sample) if escalator else (band.fallback(score), "detector")
            )
        else:
            roadwork, tier = decision == "roadwork", "detector"
        decided_by[tier] = decided_by.get(tier, 0) + 1
        predicted.append(roadwork)
        if progress:
            progress(1)
    elapsed = time.perf_counter() - started
    return EvalResult(Confusion.of([s.roadwork for s in samples], predicted), escalated, decided_by, elapsed)
