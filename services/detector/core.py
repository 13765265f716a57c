"""The detector's decision for one image (pure): a DetectionResult plus either a Verdict or an escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from roadwatch.vision.scoring import DEFAULT_PROFILE, Band, roadwork_score
from schemas import Detection, DetectionResult, EscalationRequest, ImageEvent, ModelRef, Verdict


@dataclass(frozen=True)
class Assessment:
    """What the detector makes of one image: its result, and a verdict or an escalation."""

    result: DetectionResult
    verdict: Verdict | None
    escalation: EscalationRequest | None


@dataclass(frozen=True)
class Timings:
    decode_ms: float
    inference_ms: float


def assess(
    event: ImageEvent,
    detections: list[Detection],
    models: list[ModelRef],
    band: Band,
    timings: Timings,
    now: datetime,
    profile: dict[str, tuple[str, float]] = DEFAULT_PROFILE,
    variant: str | None = None,
) -> Assessment:
    """Score the boxes, decide with `band`, and build the records to publish for this event (`variant`: a
    shadow's name, carried by the result; a shadow's pipeline publishes the result alone)."""
    score = roadwork_score(detections, profile)
    decision = band.decide(score)
    common = {"event_id": event.event_id, "source_id": event.source_id, "captured_at": event.captured_at}
    result = DetectionResult(
        **common,
        image_uri=event.image_uri,
        image_sha256=event.image_sha256,
        detections=detections,
        roadwork_score=score,
        decision=decision,
        band_low=band.low,
        band_high=band.high,
        models=models,
        decode_ms=round(timings.decode_ms, 3),
        inference_ms=round(timings.inference_ms, 3),
        detected_at=now,
        variant=variant,
    )
    if decision == "escalate":
        escalation = EscalationRequest(
            **common,
            image_uri=event.image_uri,
            image_b64=event.image_b64,
            image_sha256=event.image_sha256,
            target_tier="fast",
            detector_score=score,
            detections=detections,
            requested_at=now,
        )
        return Assessment(result, None, escalation)
    roadwork = decision == "roadwork"
    verdict = Verdict(
        **common,
        roadwork=roadwork,
        confidence=score if roadwork else 1.0 - score,
        decided_by="detector",
        tier_path=["detector"],
        detector_score=score,
        decided_at=now,
    )
    return Assessment(result, verdict, None)
