"""Per-source confidence state as a pure transition: `step(state, event, config) -> (state, outputs)`.

Tested without Flink; the Flink job's keyed process function only calls it.

- Detector results update the EWMA of the detector score and the escalation rate.
- Verdicts update the roadwork rate, tier counts, degraded count and — for escalated images only, where a
  second opinion exists — the detector-vs-final disagreement rate (detector side: score vs band midpoint).
- Roadwork on/off with hysteresis: on when the roadwork rate reaches `on_at` (after `min_events` verdicts),
  off when it falls to `off_at`; each change emits one alert.
- Bands: after `min_evidence` escalated verdicts since the last change, widen by `step` when disagreement
  exceeds `widen_at`, narrow when it is below `narrow_at`, always within [`low_min`, `high_max`] and at least
  `min_width` wide. A change emits a `Thresholds` record.
- Applied bands (`tune --apply`, read back from `thresholds.v1`): the source's band becomes the applied one
  (its new starting point, with no record emitted: the detector has it already) and its moves from then on
  stay within `drift` of it: low in [low - drift, low + drift], high in [high - drift, high + drift] (the
  `low_min` / `high_max` of the config give way to these bounds; without a drift, they are stretched to
  hold the applied band).
- Time: an event more than `lateness_s` older than the newest one seen for the source is late: it is
  counted (`late`) and otherwise ignored. Out-of-order events within the lateness are folded normally.
- A `SourceState` is emitted on an alert, on a band change, and every `emit_every` folded events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from roadwatch.vision.scoring import DEFAULT_BAND

Kind = Literal["detection", "verdict", "applied"]


@dataclass(frozen=True)
class Config:
    alpha: float = 0.2
    on_at: float = 0.6
    off_at: float = 0.3
    min_events: int = 3
    default_low: float = DEFAULT_BAND.low
    default_high: float = DEFAULT_BAND.high
    low_min: float = 0.05
    high_max: float = 0.8
    min_width: float = 0.1
    step: float = 0.05
    widen_at: float = 0.25
    narrow_at: float = 0.05
    min_evidence: int = 5
    lateness_s: float = 300.0
    emit_every: int = 10


@dataclass(frozen=True)
class Event:
    kind: Kind
    event_id: str
    source_id: str
    captured_at: datetime
    score: float = 0.0
    escalated: bool = False
    roadwork: bool = False
    decided_by: str = "detector"
    degraded: bool = False
    applied: Anchor | None = None  # kind "applied": the band and its drift


@dataclass(frozen=True)
class Anchor:
    """An applied band and how far adaptive moves may take each edge from it."""

    low: float
    high: float
    drift: float | None = None  # None: the config's bounds


@dataclass(frozen=True)
class State:
    events: int = 0
    verdicts: int = 0
    late: int = 0
    ewma_score: float = 0.0
    escalation_rate: float = 0.0
    roadwork_rate: float = 0.0
    disagreement_rate: float = 0.0
    degraded_count: int = 0
    tier_counts: tuple[tuple[str, int], ...] = ()
    roadwork_active: bool = False
    low: float = DEFAULT_BAND.low
    high: float = DEFAULT_BAND.high
    evidence: int = 0
    newest: datetime | None = None
    last_event_id: str = ""
    last_captured_at: datetime | None = None
    anchor: Anchor | None = None  # the applied band the moves stay around (None: the config's bounds)


@dataclass(frozen=True)
class StateOut:
    state: State
    alert: Literal["roadwork_started", "roadwork_cleared"] | None


@dataclass(frozen=True)
class BandsOut:
    low: float
    high: float
    evidence: int


StepOutput = StateOut | BandsOut


@dataclass(frozen=True)
class Step:
    state: State
    outputs: list[StepOutput] = field(default_factory=list)


def initial(config: Config) -> State:
    return State(low=config.default_low, high=config.default_high)


def _ewma(old: float, new: float, alpha: float, first: bool) -> float:
    return new if first else (1 - alpha) * old + alpha * new


def _counts(counts: tuple[tuple[str, int], ...], tier: str) -> tuple[tuple[str, int], ...]:
    d = dict(counts)
    d[tier] = d.get(tier, 0) + 1
    return tuple(sorted(d.items()))


def _evolve(s: State, **changes: object) -> State:
    """`s` with `changes`, as `dataclasses.replace` makes it but without its trip through `__init__` (State
    has no `__post_init__` to skip): a quarter of its cost, and the job copies a state for every record."""
    new = object.__new__(State)
    new.__dict__.update(s.__dict__, **changes)
    return new


def step(state: State | None, event: Event, config: Config) -> Step:
    """Fold one event into the source's state; returns the new state and what to publish.
    (One copy of the state per event: the job calls this for every record, and each copy costs.)"""
    s = state or initial(config)
    if event.applied is not None:  # not traffic: never late, and nothing else changes
        a = event.applied
        return Step(_evolve(s, low=a.low, high=a.high, evidence=0, disagreement_rate=0.0, anchor=a))
    if s.newest is not None and (s.newest - event.captured_at).total_seconds() > config.lateness_s:
        return Step(_evolve(s, late=s.late + 1))
    newest = event.captured_at if s.newest is None or event.captured_at > s.newest else s.newest
    outputs: list[StepOutput] = []
    alert = None
    if event.kind == "detection":
        first = s.events == 0
        s = _evolve(
            s,
            events=s.events + 1,
            newest=newest,
            last_event_id=event.event_id,
            last_captured_at=event.captured_at,
            ewma_score=_ewma(s.ewma_score, event.score, config.alpha, first),
            escalation_rate=_ewma(s.escalation_rate, float(event.escalated), config.alpha, first),
        )
    else:
        verdicts = s.verdicts + 1
        roadwork_rate = _ewma(s.roadwork_rate, float(event.roadwork), config.alpha, s.verdicts == 0)
        evidence, disagreement, low, high = s.evidence, s.disagreement_rate, s.low, s.high
        if event.decided_by != "detector" and not event.degraded:
            detector_said = event.score >= (low + high) / 2
            disagreement = _ewma(
                disagreement, float(detector_said != event.roadwork), config.alpha, evidence == 0
            )
            evidence += 1
            band = _adapt(evidence, disagreement, low, high, config, _bounds(s.anchor, config))
            if band is not None:
                outputs.append(band)
                evidence, low, high = 0, band.low, band.high
        alert = _hysteresis(verdicts, roadwork_rate, s.roadwork_active, config)
        s = _evolve(
            s,
            events=s.events + 1,
            newest=newest,
            last_event_id=event.event_id,
            last_captured_at=event.captured_at,
            verdicts=verdicts,
            tier_counts=_counts(s.tier_counts, event.decided_by),
            degraded_count=s.degraded_count + int(event.degraded),
            roadwork_rate=roadwork_rate,
            evidence=evidence,
            disagreement_rate=disagreement,
            low=low,
            high=high,
            roadwork_active=s.roadwork_active if alert is None else alert == "roadwork_started",
        )
    if alert is not None or outputs or s.events % config.emit_every == 0:
        outputs.insert(0, StateOut(s, alert))
    return Step(s, outputs)


def _hysteresis(
    verdicts: int, roadwork_rate: float, active: bool, config: Config
) -> Literal["roadwork_started", "roadwork_cleared"] | None:
    if verdicts < config.min_events:
        return None
    if not active and roadwork_rate >= config.on_at:
        return "roadwork_started"
    if active and roadwork_rate <= config.off_at:
        return "roadwork_cleared"
    return None


@dataclass(frozen=True)
class Bounds:
    """Where each edge of a band may move, and the narrowest band."""

    low_min: float
    low_max: float
    high_min: float
    high_max: float
    min_width: float


def _bounds(anchor: Anchor | None, config: Config) -> Bounds:
    """The config's bounds, or those around the applied band when there is one."""
    if anchor is None:
        return Bounds(config.low_min, 1.0, 0.0, config.high_max, config.min_width)
    if anchor.drift is None:  # the config's bounds, stretched to hold the applied band
        low_min, high_max = min(config.low_min, anchor.low), max(config.high_max, anchor.high)
        return Bounds(low_min, 1.0, 0.0, high_max, min(config.min_width, anchor.high - anchor.low))
    d = anchor.drift
    return Bounds(max(0.0, anchor.low - d), anchor.low + d, anchor.high - d, min(1.0, anchor.high + d), 0.0)


def _adapt(
    evidence: int, disagreement: float, low: float, high: float, config: Config, bounds: Bounds
) -> BandsOut | None:
    """The band widened or narrowed by up to one step within `bounds`, or None (too little evidence, a
    disagreement between the two marks, or no room left)."""
    if evidence < config.min_evidence:
        return None
    if disagreement > config.widen_at:
        new_low, new_high = max(bounds.low_min, low - config.step), min(bounds.high_max, high + config.step)
    elif disagreement < config.narrow_at:
        new_low, new_high = min(bounds.low_max, low + config.step), max(bounds.high_min, high - config.step)
        if new_high - new_low < bounds.min_width:
            return None
    else:
        return None
    new_low, new_high = round(new_low, 4), round(new_high, 4)
    if (new_low, new_high) == (low, high):
        return None
    return BandsOut(new_low, new_high, evidence)
