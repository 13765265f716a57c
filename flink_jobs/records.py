"""Between Kafka JSON and the state machine (pure): records to `Event`, outputs to state records."""

from __future__ import annotations

from datetime import UTC, datetime

from flink_jobs.state_machine import Anchor, BandsOut, Event, State, StateOut
from schemas import DetectionResult, SourceState, Thresholds, Verdict


def to_event(topic_kind: str, value: bytes | str | None) -> Event:
    """Parse a detections or verdicts record.

    Raises:
        pydantic.ValidationError: a bad record or a tombstone (None).
    """
    if value is None:
        value = b"null"  # a tombstone: rejected by the model like any other non-object
    if topic_kind == "detection":
        d = DetectionResult.model_validate_json(value)
        return Event(
            "detection",
            d.event_id,
            d.source_id,
            d.captured_at,
            score=d.roadwork_score,
            escalated=d.decision == "escalate",
        )
    v = Verdict.model_validate_json(value)
    return Event(
        "verdict",
        v.event_id,
        v.source_id,
        v.captured_at,
        score=v.detector_score,
        roadwork=v.roadwork,
        decided_by=v.decided_by,
        degraded=v.degraded,
    )


def to_applied(value: bytes | str | None) -> Event | None:
    """The `applied` event of a `thresholds.v1` record, or None for what the job does not fold: its own
    adaptive bands, tombstones (the state keeps its band until traffic moves it), and the applied default
    (`_default`: the detector holds every adaptive band of a source without its own within its drift).

    Raises:
        pydantic.ValidationError: a bad record.
    """
    if value is None:
        return None
    t = Thresholds.model_validate_json(value)
    if t.origin != "applied" or t.scope == "default":
        return None
    anchor = Anchor(t.low, t.high, t.drift)
    return Event("applied", t.event_id, t.source_id, t.captured_at, applied=anchor)


def render(source_id: str, out: StateOut | BandsOut, state: State, now: datetime | None = None) -> str:
    """The JSON record for one output. Its `event_id` names the source's n-th folded event (a detection
    and the verdict of one image share an event_id), so a replay from a checkpoint repeats it."""
    now = now or datetime.now(UTC)
    captured = state.last_captured_at or now
    if isinstance(out, BandsOut):
        return Thresholds(
            event_id=f"bands:{source_id}:{state.events}:{state.last_event_id}",
            source_id=source_id,
            captured_at=captured,
            low=out.low,
            high=out.high,
            evidence=out.evidence,
            updated_at=now,
        ).model_dump_json()
    s = out.state
    return SourceState(
        event_id=f"state:{source_id}:{s.events}:{s.last_event_id}",
        source_id=source_id,
        captured_at=captured,
        events=s.events,
        ewma_confidence=round(s.ewma_score, 6),
        escalation_rate=round(s.escalation_rate, 6),
        roadwork_rate=round(s.roadwork_rate, 6),
        disagreement_rate=round(s.disagreement_rate, 6),
        degraded_count=s.degraded_count,
        tier_counts=dict(s.tier_counts),
        roadwork_active=s.roadwork_active,
        alert=out.alert,
        updated_at=now,
    ).model_dump_json()
