"""What a tier does with an escalation, given its backend's opinion (pure): decide, escalate, or fail over.

- Confident enough (`confidence >= accept`), or the top tier, or work that arrived by failover → Verdict.
- Otherwise → EscalationRequest to the tier above, with this tier's opinion attached.
- Backend failed / breaker open / unparseable at the top → fail over downward: an EscalationRequest to the
  tier below carrying the reason (that tier must decide, not escalate), or, below `fast`, a detection-only
  Verdict from the detector's score. Degraded verdicts say so and why.
- A shadow variant routes nothing: its opinion becomes a ShadowOpinion (`shadow_opinion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas import EscalationRequest, ShadowOpinion, TierOpinion, Verdict
from schemas.records import VLM_TIERS, Tier, VlmTier


@dataclass(frozen=True)
class Ladder:
    """A tier's place: the tier it escalates to and the one it fails over to (None = detection-only)."""

    tier: VlmTier
    above: VlmTier | None
    below: VlmTier | None
    accept: float
    detector_midpoint: float


def ladder_for(tier: VlmTier, accept: float, detector_midpoint: float) -> Ladder:
    """The tier's place in the ladder: escalate to the next one up, fail over to the next one down."""
    i = VLM_TIERS.index(tier)
    above = VLM_TIERS[i + 1] if i + 1 < len(VLM_TIERS) else None
    return Ladder(tier, above, VLM_TIERS[i - 1] if i else None, accept, detector_midpoint)


@dataclass(frozen=True)
class Route:
    """Where a tier sends an escalation next: a verdict, or an escalation up or down the ladder."""

    verdict: Verdict | None = None
    escalation: EscalationRequest | None = None


def _path(opinions: list[TierOpinion]) -> list[Tier]:
    return ["detector", *[o.tier for o in opinions]]


def _verdict(
    req: EscalationRequest,
    opinions: list[TierOpinion],
    roadwork: bool,
    confidence: float,
    decided_by: Tier,
    reasons: list[str],
    now: datetime,
) -> Verdict:
    return Verdict(
        event_id=req.event_id,
        source_id=req.source_id,
        captured_at=req.captured_at,
        roadwork=roadwork,
        confidence=confidence,
        decided_by=decided_by,
        tier_path=_path(opinions),
        opinions=opinions,
        detector_score=req.detector_score,
        degraded=bool(reasons),
        degraded_reason="; ".join(reasons) or None,
        decided_at=now,
    )


def _forward(
    req: EscalationRequest, target: VlmTier, opinions: list[TierOpinion], reasons: list[str], now: datetime
) -> EscalationRequest:
    return req.model_copy(
        update={"target_tier": target, "opinions": opinions, "degraded_reasons": reasons, "requested_at": now}
    )


def decide(ladder: Ladder, req: EscalationRequest, opinion: TierOpinion, now: datetime) -> Route:
    """Next step for `req` after this tier's backend gave `opinion` (answered, unparseable or failed)."""
    opinions = [*req.opinions, opinion]
    reasons = list(req.degraded_reasons)
    if opinion.outcome == "answered" and opinion.roadwork is not None:
        if ladder.above is None or reasons or opinion.confidence >= ladder.accept:
            return Route(
                verdict=_verdict(
                    req, opinions, opinion.roadwork, opinion.confidence, ladder.tier, reasons, now
                )
            )
        return Route(escalation=_forward(req, ladder.above, opinions, reasons, now))
    if opinion.outcome == "unparseable" and ladder.above is not None and not reasons:
        return Route(escalation=_forward(req, ladder.above, opinions, reasons, now))
    return fail_over(ladder, req, opinions, f"{ladder.tier}: {opinion.error or opinion.outcome}", now)


def fail_over(
    ladder: Ladder, req: EscalationRequest, opinions: list[TierOpinion], reason: str, now: datetime
) -> Route:
    """Send the work one tier down, or decide from the detector's score below `fast`."""
    reasons = [*req.degraded_reasons, reason]
    if ladder.below is not None:
        return Route(escalation=_forward(req, ladder.below, opinions, reasons, now))
    roadwork = req.detector_score >= ladder.detector_midpoint
    confidence = req.detector_score if roadwork else 1.0 - req.detector_score
    return Route(verdict=_verdict(req, opinions, roadwork, confidence, "detector", reasons, now))


def shadow_opinion(
    req: EscalationRequest, opinion: TierOpinion, variant: str, now: datetime
) -> ShadowOpinion:
    """What a shadow variant writes for `req`: its opinion, tagged, and never a verdict or an escalation."""
    return ShadowOpinion(
        event_id=req.event_id,
        source_id=req.source_id,
        captured_at=req.captured_at,
        variant=variant,
        image_sha256=req.image_sha256,
        opinion=opinion,
        opined_at=now,
    )
