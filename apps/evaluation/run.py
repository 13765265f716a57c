"""Run the configured cascade over labelled samples, without Kafka, through the production code: each image
becomes the `ImageEvent` the producer would send, the detector's own pipeline decides or escalates, and an
escalation goes up the tiers' pipelines or, without tiers, through the tiers' own detection-only failover."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.evaluation.dataset import Sample
from roadwatch.analytics.scores import Confusion
from roadwatch.kafka.deadletter import RawRecord
from roadwatch.kafka.topics import IMAGES
from roadwatch.producer.events import build_event
from schemas import DeadLetter, EscalationRequest, ImageEvent, Verdict
from services.detector.pipeline import DetectorPipeline
from services.detector.settings import DetectorSettings
from services.vlm_tier.core import Ladder, fail_over

# Decides an image the detector escalated: the verdict the VLM tiers reach.
Escalator = Callable[[EscalationRequest], Verdict]


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


class Cascade:
    """One image through the detector's pipeline, then the escalator or the detection-only failover."""

    def __init__(
        self,
        settings: DetectorSettings,
        detector: DetectorPipeline,
        bottom: Ladder,
        escalator: Escalator | None,
    ) -> None:
        self._settings, self._detector, self._bottom, self._escalator = settings, detector, bottom, escalator

    def decide(self, sample: Sample, offset: int) -> tuple[Verdict, bool]:
        """The image's verdict, and whether the detector escalated it.

        Raises:
            ValueError: the detector dead-lettered the image (it is not a usable image).
        """
        _, by_topic = detect(self._settings, self._detector, sample, offset)
        if (verdict := by_topic.get(self._settings.verdicts_topic)) is not None:
            return Verdict.model_validate_json(verdict), False
        req = EscalationRequest.model_validate_json(by_topic[self._settings.escalation_topic])
        if self._escalator is not None:
            return self._escalator(req), True
        route = fail_over(self._bottom, req, [], "eval: detector only", datetime.now(UTC))
        if route.verdict is None:
            raise RuntimeError("the bottom tier's failover always decides")
        return route.verdict, True


def detect(
    settings: DetectorSettings, detector: DetectorPipeline, sample: Sample, offset: int
) -> tuple[ImageEvent, dict[str, bytes]]:
    """The `ImageEvent` the producer would send for `sample` (the image inline) and what the detector's
    pipeline made of it, by topic.

    Raises:
        ValueError: the detector dead-lettered the image (it is not a usable image).
    """
    data = sample.path.read_bytes()
    event = build_event(
        data,
        uri=sample.path.as_uri(),
        source_id="eval",
        captured_at=datetime.now(UTC),
        limits=settings.limits(),
        inline_max_bytes=len(data),
    )
    record = RawRecord(IMAGES, 0, offset, b"eval", event.model_dump_json().encode())
    by_topic = {out.topic: out.value for out in detector([record])}
    if settings.detections_topic not in by_topic:
        letter = DeadLetter.model_validate_json(next(iter(by_topic.values())))
        raise ValueError(f"{sample.path}: {letter.reason}: {letter.detail}")
    return event, by_topic


def evaluate(
    samples: list[Sample], cascade: Cascade, progress: Callable[[int], None] | None = None
) -> EvalResult:
    """Every sample through `cascade`; accuracy against the labels, escalations and who decided."""
    predicted: list[bool] = []
    escalated, decided_by = 0, dict[str, int]()
    started = time.perf_counter()
    for offset, sample in enumerate(samples):
        verdict, was_escalated = cascade.decide(sample, offset)
        escalated += was_escalated
        decided_by[verdict.decided_by] = decided_by.get(verdict.decided_by, 0) + 1
        predicted.append(verdict.roadwork)
        if progress:
            progress(1)
    elapsed = time.perf_counter() - started
    return EvalResult(Confusion.of([s.roadwork for s in samples], predicted), escalated, decided_by, elapsed)
