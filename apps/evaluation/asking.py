"""Asking one tier about images on purpose (dense evaluation, `replay --rerun`): the requests go through the
tier's own `TierPipeline`, so its backend, retries, circuit breaker, bulkhead and image fetch (under its
allow-list) are the production ones, and the tier's opinion is read off whatever it routed next."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from roadwatch.kafka.codec import encode
from roadwatch.kafka.deadletter import RawRecord
from roadwatch.kafka.topics import dlq
from schemas import DeadLetter, EscalationRequest, TierOpinion, Verdict
from schemas.records import VlmTier
from services.vlm_tier.pipeline import TierPipeline

BATCH = 16  # requests per pipeline call: concurrent within the tier's bulkhead, and a progress step


@dataclass(frozen=True)
class Reply:
    """The tier's opinion of one request, or why it gave none (refused by its breaker or bulkhead, or the
    request dead-lettered: an image it could not fetch or decode)."""

    opinion: TierOpinion | None
    missing: str | None = None


class Tiers:
    """The tiers' pipelines, each built by `build` (`services.vlm_tier.service.build_pipeline` of the tier's
    settings) when first asked for; `close()` closes those built."""

    def __init__(self, build: Callable[[VlmTier], TierPipeline]) -> None:
        self._build, self._built = build, dict[VlmTier, TierPipeline]()

    def __getitem__(self, tier: VlmTier) -> TierPipeline:
        if tier not in self._built:
            self._built[tier] = self._build(tier)
        return self._built[tier]

    def close(self) -> None:
        for pipeline in self._built.values():
            pipeline.close()


def ask(
    pipeline: TierPipeline,
    requests: list[EscalationRequest],
    progress: Callable[[int], None] | None = None,
) -> list[Reply]:
    """The tier's reply to each request (each addressed to the pipeline's tier), in order."""
    replies: list[Reply] = []
    for start in range(0, len(requests), BATCH):
        chunk = requests[start : start + BATCH]
        topic = pipeline.settings.topic(pipeline.settings.tier)
        records = [
            RawRecord(topic, 0, start + i, r.source_id.encode(), encode(r)) for i, r in enumerate(chunk)
        ]
        outs = pipeline(records)
        replies += [_reply(pipeline, r, out.topic, out.value) for r, out in zip(chunk, outs, strict=True)]
        if progress:
            progress(len(chunk))
    return replies


def _reply(pipeline: TierPipeline, req: EscalationRequest, topic: str, value: bytes) -> Reply:
    if topic == dlq(pipeline.settings.topic(pipeline.settings.tier)):
        letter = DeadLetter.model_validate_json(value)
        return Reply(None, f"{letter.reason}: {letter.detail}")
    routed = (
        Verdict.model_validate_json(value)
        if topic == pipeline.settings.verdicts_topic
        else EscalationRequest.model_validate_json(value)
    )
    if len(routed.opinions) > len(req.opinions):
        return Reply(routed.opinions[-1])
    reasons = routed.degraded_reason if isinstance(routed, Verdict) else "; ".join(routed.degraded_reasons)
    return Reply(None, reasons or "no opinion")
