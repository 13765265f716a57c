"""A shadow tier: its opinion, tagged, on its own topic; never a verdict or an escalation."""

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from roadwatch.errors import BackendError
from roadwatch.kafka.deadletter import RawRecord
from schemas import EscalationRequest, ShadowOpinion, TierOpinion, Verdict
from services.vlm_tier.breaker import BreakerConfig, CircuitBreaker
from services.vlm_tier.core import shadow_opinion
from services.vlm_tier.parsing import Answer, Unparseable
from services.vlm_tier.pipeline import TierPipeline
from services.vlm_tier.settings import tier_settings

NOW = datetime(2026, 11, 27, tzinfo=UTC)
IMAGE = b"\xff\xd8\xff\xe0not decoded by the fake backend"


class FakeBackend:
    """Answers what it is told to, per event_id: an Answer, an Unparseable, or a BackendError."""

    name, model, prompt_version = "fake", "m-2", "v1"

    def __init__(self, answers: dict[str, Answer | Unparseable | BackendError]) -> None:
        self.answers = answers

    async def warm_up(self) -> None:
        return None

    async def ask(self, req: EscalationRequest, image: bytes, content_type: str) -> Answer | Unparseable:
        answer = self.answers[req.event_id]
        if isinstance(answer, BackendError):
            raise answer
        return answer

    async def close(self) -> None:
        return None


def request(event_id: str, tier: str = "fast") -> RawRecord:
    req = EscalationRequest(
        event_id=event_id,
        source_id="cam-1",
        captured_at=NOW,
        image_b64=base64.b64encode(IMAGE).decode(),
        image_sha256=hashlib.sha256(IMAGE).hexdigest(),
        target_tier=tier,  # type: ignore[arg-type]
        detector_score=0.3,
        detections=[],
        requested_at=NOW,
    )
    return RawRecord("escalations.fast.v1", 0, 0, b"cam-1", req.model_dump_json().encode(), None)


def pipeline(backend: FakeBackend, shadow: str | None = "qwen", **breaker: object) -> TierPipeline:
    settings = tier_settings("fast", shadow=shadow, retries=0, breaker=BreakerConfig(**breaker))  # type: ignore[arg-type]
    return TierPipeline(settings, backend, CircuitBreaker("fast", settings.breaker))  # type: ignore[arg-type]


def test_shadow_opinion_is_tagged_and_keeps_the_event() -> None:
    req = EscalationRequest.model_validate_json(request("e1").value or b"")
    opinion = TierOpinion(
        tier="fast",
        backend="b",
        model="m",
        prompt_version="v",
        outcome="answered",
        roadwork=True,
        confidence=0.8,
        latency_ms=3.0,
    )
    record = shadow_opinion(req, opinion, "qwen", NOW)
    assert (record.event_id, record.source_id, record.variant) == ("e1", "cam-1", "qwen")
    assert (record.image_sha256, record.opinion, record.opined_at) == (req.image_sha256, opinion, NOW)


def test_a_shadow_tier_writes_opinions_only() -> None:
    backend = FakeBackend(
        {
            "sure": Answer(True, 0.95, ("cone",)),  # production would decide
            "unsure": Answer(False, 0.4, ()),  # production would escalate to power
            "junk": Unparseable("not_json", "??"),
            "down": BackendError("503", transient=False),  # production would fail over
        }
    )
    p = pipeline(backend)
    try:
        outputs = p([request(e) for e in backend.answers])
    finally:
        p.close()
    assert {o.topic for o in outputs} == {"opinions.shadow.v1"}
    records = {r.event_id: r for r in (ShadowOpinion.model_validate_json(o.value) for o in outputs)}
    assert {r.variant for r in records.values()} == {"qwen"}
    outcome = {e: (r.opinion.outcome, r.opinion.roadwork) for e, r in records.items()}
    assert outcome == {
        "sure": ("answered", True),
        "unsure": ("answered", False),
        "junk": ("unparseable", None),
        "down": ("failed", None),
    }
    assert records["sure"].opinion.model == "m-2" and records["sure"].opinion.tier == "fast"


def test_a_refused_call_is_a_failed_opinion() -> None:
    backend = FakeBackend({f"e{i}": BackendError("503", transient=False) for i in range(3)})
    p = pipeline(backend, window_size=2, minimum_calls=2, wait_in_open_s=60)
    try:
        first = p([request("e0"), request("e1")])
        (refused,) = p([request("e2")])
    finally:
        p.close()
    assert len(first) == 2
    opinion = ShadowOpinion.model_validate_json(refused.value).opinion
    assert opinion.outcome == "failed" and "open" in (opinion.error or "")


def test_a_bad_record_is_counted_not_dead_lettered() -> None:
    def count() -> float:
        labels = {"tier": "fast", "reason": "wrong_tier"}
        return REGISTRY.get_sample_value("roadwatch_vlm_shadow_skipped_total", labels) or 0.0

    before = count()
    p = pipeline(FakeBackend({}))
    try:
        assert p([request("e", tier="power")]) == []
    finally:
        p.close()
    assert count() == before + 1


def test_production_still_decides() -> None:
    p = pipeline(FakeBackend({"sure": Answer(True, 0.95, ())}), shadow=None)
    try:
        (out,) = p([request("sure")])
    finally:
        p.close()
    assert out.topic == "verdicts.v1" and Verdict.model_validate_json(out.value).decided_by == "fast"


def test_a_shadow_tier_has_its_own_group() -> None:
    assert tier_settings("power").group == "roadwatch-vlm-power"
    assert tier_settings("power", shadow="qwen").group == "roadwatch-vlm-power-shadow-qwen"
    assert tier_settings("power", shadow="qwen").serving_port == 9142


@pytest.mark.parametrize("name", ["a:b", ""])
def test_a_variant_name_is_checked(name: str) -> None:
    with pytest.raises(ValueError):
        tier_settings("fast", shadow=name)
