"""The VLM ladder without Kafka, for `eval`: the detector's escalation goes through the same `TierPipeline`
the services run, tier by tier (escalations up, failovers down), until one of them returns a verdict."""

from __future__ import annotations

from roadwatch.kafka.codec import encode
from roadwatch.kafka.deadletter import RawRecord
from roadwatch.kafka.topics import escalations
from schemas import EscalationRequest, Verdict
from schemas.records import VlmTier
from services.vlm_tier.pipeline import TierPipeline


class LadderEscalator:
    """Callable `Escalator`: an escalation request → the verdict the ladder reaches."""

    def __init__(self, pipelines: dict[VlmTier, TierPipeline]) -> None:
        self._pipelines = pipelines

    def __call__(self, req: EscalationRequest) -> Verdict:
        for offset in range(10):  # a ladder of three tiers never needs more hops, failovers included
            pipeline = self._pipelines[req.target_tier]
            record = RawRecord(escalations(req.target_tier), 0, offset, req.source_id.encode(), encode(req))
            (out,) = pipeline([record])
            if out.topic == pipeline.settings.verdicts_topic:
                return Verdict.model_validate_json(out.value)
            req = EscalationRequest.model_validate_json(out.value)
        raise RuntimeError(f"{req.event_id}: the ladder did not settle")

    def close(self) -> None:
        for p in self._pipelines.values():
            p.close()
