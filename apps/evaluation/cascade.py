"""The VLM ladder without Kafka, for `eval`: each escalation goes through the same `TierPipeline` the
services run, tier by tier, until one of them returns a verdict."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import numpy as np

from apps.evaluation.dataset import Sample
from roadwatch.kafka.deadletter import RawRecord
from schemas import EscalationRequest, Verdict
from services.vlm_tier.core import VlmTier
from services.vlm_tier.pipeline import TierPipeline


class LadderEscalator:
    """Callable `Escalator`: (pixels, detector score, sample) → (roadwork, tier that decided)."""

    def __init__(self, pipelines: dict[VlmTier, TierPipeline]) -> None:
        self._pipelines = pipelines

    def __call__(self, pixels: np.ndarray, score: float, sample: Sample) -> tuple[bool, str]:
        data = sample.path.read_bytes()
        now = datetime.now(UTC)
        req = EscalationRequest(
            event_id=sample.path.name,
            source_id="eval",
            captured_at=now,
            image_b64=base64.b64encode(data).decode(),
            image_sha256=hashlib.sha256(data).hexdigest(),
            target_tier="fast",
            detector_score=score,
            detections=[],
            requested_at=now,
        )
        for _ in range(10):  # a ladder of three tiers never needs more hops, failovers included
            pipeline = self._pipelines[req.target_tier]
            (out,) = pipeline(
                [
                    RawRecord(
                        f"escalations.{req.target_tier}.v1", 0, 0, b"eval", req.model_dump_json().encode()
                    )
                ]
            )
            if out.topic == pipeline.settings.verdicts_topic:
                verdict = Verdict.model_validate_json(out.value)
                return verdict.roadwork, verdict.decided_by
            req = EscalationRequest.model_validate_json(out.value)
        raise RuntimeError(f"{sample.path}: the ladder did not settle")

    def close(self) -> None:
        for p in self._pipelines.values():
            p.close()
