from datetime import UTC, datetime

from roadwatch.vision.scoring import DETECTION_ONLY_MIDPOINT
from schemas import EscalationRequest, TierOpinion
from services.vlm_tier.core import Ladder, decide, fail_over

NOW = datetime(2026, 11, 27, tzinfo=UTC)
FAST = Ladder("fast", "power", None, accept=0.7, detector_midpoint=DETECTION_ONLY_MIDPOINT)
POWER = Ladder("power", "precision", "fast", accept=0.65, detector_midpoint=DETECTION_ONLY_MIDPOINT)
PRECISION = Ladder("precision", None, "power", accept=0.0, detector_midpoint=DETECTION_ONLY_MIDPOINT)


def req(target: str = "fast", score: float = 0.35, reasons: list[str] | None = None) -> EscalationRequest:
    return EscalationRequest(
        event_id="e",
        source_id="cam-1",
        captured_at=NOW,
        image_uri="file:///x.jpg",
        image_sha256="a" * 64,
        target_tier=target,
        detector_score=score,
        detections=[],
        degraded_reasons=reasons or [],
        requested_at=NOW,
    )  # type: ignore[arg-type]


def opinion(
    tier: str, outcome: str = "answered", roadwork: bool | None = True, conf: float = 0.9
) -> TierOpinion:
    return TierOpinion(
        tier=tier,
        backend="openai",
        model="m",
        prompt_version="p",
        outcome=outcome,  # type: ignore[arg-type]
        roadwork=roadwork,
        confidence=conf,
        latency_ms=10,
    )


def test_confident_answer_decides() -> None:
    d = decide(FAST, req(), opinion("fast", conf=0.8), NOW)
    assert d.verdict and d.verdict.decided_by == "fast" and d.verdict.tier_path == ["detector", "fast"]
    assert not d.verdict.degraded


def test_unsure_answer_escalates_with_its_opinion() -> None:
    d = decide(FAST, req(), opinion("fast", conf=0.6), NOW)
    assert d.escalation and d.escalation.target_tier == "power"
    assert [o.tier for o in d.escalation.opinions] == ["fast"]


def test_top_tier_always_decides() -> None:
    d = decide(PRECISION, req("precision"), opinion("precision", roadwork=False, conf=0.51), NOW)
    assert d.verdict and d.verdict.roadwork is False and d.verdict.decided_by == "precision"


def test_unparseable_escalates_but_never_decides_clear() -> None:
    d = decide(FAST, req(), opinion("fast", outcome="unparseable", roadwork=None, conf=0.0), NOW)
    assert d.escalation and d.escalation.target_tier == "power"
    d = decide(
        PRECISION, req("precision"), opinion("precision", outcome="unparseable", roadwork=None, conf=0.0), NOW
    )
    assert d.escalation and d.escalation.target_tier == "power" and d.escalation.degraded_reasons


def test_failed_backend_fails_over_down_and_the_lower_tier_must_decide() -> None:
    d = decide(
        PRECISION, req("precision"), opinion("precision", outcome="failed", roadwork=None, conf=0), NOW
    )
    assert d.escalation and d.escalation.target_tier == "power"
    lowered = d.escalation
    d2 = decide(POWER, lowered, opinion("power", conf=0.5), NOW)  # unsure, but it came by failover
    assert d2.verdict and d2.verdict.degraded and "precision" in (d2.verdict.degraded_reason or "")


def test_below_fast_is_detection_only() -> None:
    d = fail_over(FAST, req(score=0.4), [], "fast: circuit open", NOW)
    assert d.verdict and d.verdict.decided_by == "detector" and d.verdict.roadwork is True
    assert d.verdict.degraded and d.verdict.degraded_reason == "fast: circuit open"
    d = fail_over(FAST, req(score=0.2), [], "fast: circuit open", NOW)
    assert d.verdict and d.verdict.roadwork is False and d.verdict.confidence == 0.8
