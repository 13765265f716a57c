"""Dense evaluation: every tier's opinion of every image of a labelled dataset, not only of what the ladder
escalated, with the detector's score of it, so that any band and accept level can be scored exactly later.

Each image goes through the detector's pipeline (its score and boxes), then to each tier in ladder order
through the tier's own pipeline, carrying the opinions of the tiers below it: the request a tier gets when
the ladder climbs to it. The opinions become `AskedOpinion` rows (`asked_by` `dense`)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apps.evaluation.asking import Tiers, ask
from apps.evaluation.dataset import Sample
from apps.evaluation.run import detect
from roadwatch.analytics.scores import Confusion
from schemas import DetectionResult, EscalationRequest, TierOpinion
from schemas.evaluation import AskedOpinion
from schemas.records import VLM_TIERS, VlmTier
from services.detector.pipeline import DetectorPipeline
from services.detector.settings import DetectorSettings


def requests(
    settings: DetectorSettings,
    detector: DetectorPipeline,
    samples: list[Sample],
    progress: Callable[[int], None] | None = None,
) -> list[EscalationRequest]:
    """For each sample, the escalation its image would carry (inline), with the detector's score and boxes.

    Raises:
        ValueError: the detector dead-lettered an image (it is not a usable image).
    """
    out = []
    for offset, sample in enumerate(samples):
        event, by_topic = detect(settings, detector, sample, offset)
        result = DetectionResult.model_validate_json(by_topic[settings.detections_topic])
        out.append(
            EscalationRequest(
                event_id=event.event_id,
                source_id=event.source_id,
                captured_at=event.captured_at,
                image_uri=event.image_uri,
                image_b64=event.image_b64,
                image_sha256=event.image_sha256,
                target_tier=VLM_TIERS[0],
                detector_score=result.roadwork_score,
                detections=result.detections,
                requested_at=datetime.now(UTC),
            )
        )
        if progress:
            progress(1)
    return out


def ask_every_tier(
    pipelines: Tiers,
    reqs: list[EscalationRequest],
    progress: Callable[[int], None] | None = None,
) -> dict[VlmTier, list[TierOpinion | None]]:
    """Each tier's opinion of each request (None: it gave none), the tiers asked bottom to top, each request
    carrying the opinions the tiers below it gave."""
    below: list[list[TierOpinion]] = [[] for _ in reqs]
    out: dict[VlmTier, list[TierOpinion | None]] = {}
    for tier in VLM_TIERS:
        addressed = [
            r.model_copy(update={"target_tier": tier, "opinions": seen})
            for r, seen in zip(reqs, below, strict=True)
        ]
        out[tier] = [reply.opinion for reply in ask(pipelines[tier], addressed, progress)]
        for seen, opinion in zip(below, out[tier], strict=True):
            if opinion is not None:
                seen.append(opinion)
    return out


def rows(
    samples: list[Sample],
    reqs: list[EscalationRequest],
    opinions: dict[VlmTier, list[TierOpinion | None]],
    run_id: str,
) -> list[AskedOpinion]:
    """The opinions as `dense` rows: one per image and tier that gave an opinion."""
    now = datetime.now(UTC)
    return [
        AskedOpinion(
            opinion_id=str(uuid.uuid4()),
            run_id=run_id,
            asked_by="dense",
            image_sha256=req.image_sha256,
            reference=str(sample.path),
            detector_score=req.detector_score,
            truth=sample.roadwork,
            opinion=opinion,
            asked_at=now,
        )
        for tier in VLM_TIERS
        for sample, req, opinion in zip(samples, reqs, opinions[tier], strict=True)
        if opinion is not None
    ]


def summary(samples: list[Sample], opinions: dict[VlmTier, list[TierOpinion | None]]) -> dict[str, Any]:
    """Per tier: its outcomes, and its accuracy and MCC on the images it answered (each tier on its own)."""
    out: dict[str, Any] = {}
    for tier in VLM_TIERS:
        given = opinions[tier]
        counts = Counter("no_opinion" if x is None else x.outcome for x in given)
        answered = [
            (s.roadwork, x.roadwork)
            for s, x in zip(samples, given, strict=True)
            if x is not None and x.roadwork is not None
        ]
        confusion = Confusion.of([t for t, _ in answered], [p for _, p in answered])
        out[tier] = {o: counts[o] for o in ("answered", "unparseable", "failed", "no_opinion")} | {
            "accuracy": round(confusion.accuracy, 4),
            "mcc": round(confusion.mcc, 4),
        }
    return out
