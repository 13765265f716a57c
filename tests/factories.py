"""Valid records for tests, built with the real schema models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas import DeadLetter, Detection, DetectionResult, ModelRef, SourceState, TierOpinion, Verdict

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def verdict(i: int = 0, source: str = "cam-1", **kw: object) -> Verdict:
    base = dict(
        event_id=str(uuid.uuid4()),
        source_id=source,
        captured_at=T0 + timedelta(seconds=i),
        roadwork=i % 2 == 0,
        confidence=0.9,
        decided_by="fast",
        tier_path=["detector", "fast"],
        opinions=[
            TierOpinion(
                tier="fast",
                backend="local",
                model="cone+coco",
                prompt_version="local-v1",
                outcome="answered",
                roadwork=True,
                confidence=0.9,
                evidence=["cone"],
                latency_ms=120.0,
            )
        ],
        detector_score=0.3,
        decided_at=T0 + timedelta(seconds=i, milliseconds=500),
    )
    return Verdict.model_validate(base | kw)


def detection_result(i: int = 0, source: str = "cam-1", event_id: str | None = None) -> DetectionResult:
    return DetectionResult(
        event_id=event_id or str(uuid.uuid4()),
        source_id=source,
        captured_at=T0 + timedelta(seconds=i),
        image_uri="file:///x.jpg",
        image_sha256="a" * 64,
        detections=[
            Detection(
                label="traffic_cone", class_id=0, confidence=0.7, x1=0.1, y1=0.2, x2=0.3, y2=0.4, model="cone"
            )
        ],
        roadwork_score=0.7,
        decision="roadwork",
        band_low=0.15,
        band_high=0.45,
        models=[ModelRef(name="cone", version="1", weights_sha256="b" * 64)],
        decode_ms=3.0,
        inference_ms=50.0,
        detected_at=T0 + timedelta(seconds=i, milliseconds=100),
    )


def source_state(i: int = 0, source: str = "cam-1") -> SourceState:
    return SourceState(
        event_id=str(uuid.uuid4()),
        source_id=source,
        captured_at=T0 + timedelta(seconds=i),
        events=i + 1,
        ewma_confidence=0.5,
        escalation_rate=0.1,
        roadwork_rate=0.4,
        disagreement_rate=0.0,
        degraded_count=0,
        tier_counts={"detector": i + 1},
        roadwork_active=False,
        updated_at=T0 + timedelta(seconds=i),
    )


def dead_letter_record(i: int = 0) -> DeadLetter:
    return DeadLetter(
        event_id=str(uuid.uuid4()),
        source_id="cam-1",
        captured_at=T0,
        service="detector",
        reason="not_an_image",
        detail="x",
        source_topic="images.v1",
        partition=0,
        offset=i,
        original_value_b64="AA==",
        failed_at=T0,
    )
