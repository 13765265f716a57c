"""What-if over stored events (pure, vectorised over numpy columns): the path each event would take under
other detector bands and tier accept levels, from its stored detector score and stored tier opinions, and
what that path costs and how right it is.

The ladder is the services' (`services/vlm_tier/core.py`): at or above `high` the detector says roadwork,
below `low` clear, in between it escalates to `fast`; a tier that answered with `confidence >= accept`
(any confidence at the top) decides; one that answered below it, or could not parse its answer, escalates
(at the top an unparseable answer fails over). A tier that failed fails over: below `fast` to the detector's
score against the midpoint, otherwise to the tier below, whose stored answer decides (degraded, one more
call to it). An event that would reach a tier with no stored opinion of it is `unknown`: its calls are
counted, its answer is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from roadwatch.analytics.scores import Confusion
from schemas.records import VLM_TIERS, VlmTier

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
I32 = npt.NDArray[np.int32]
BOOL = npt.NDArray[np.bool_]

NO_OPINION, ANSWERED, UNPARSEABLE, FAILED = 0, 1, 2, 3
OUTCOME_CODES = {"answered": ANSWERED, "unparseable": UNPARSEABLE, "failed": FAILED}
DETECTOR, UNKNOWN = 0, -1  # decided_by codes; tier k of VLM_TIERS is k + 1
DECIDERS = ("detector", *VLM_TIERS)


@dataclass(frozen=True)
class TierColumn:
    """One tier's stored opinion of each event (its first, the one asked on the way up)."""

    outcome: I8  # NO_OPINION, ANSWERED, UNPARSEABLE, FAILED
    roadwork: BOOL
    confidence: F64


@dataclass(frozen=True)
class Stored:
    """The stored events, one entry per event in every array."""

    sources: list[str]  # the names `source` codes index
    source: I32
    score: F64  # the detector's roadwork score
    low: F64  # the band the detector used (production)
    high: F64
    tiers: Mapping[VlmTier, TierColumn]
    truth: I8  # the newest label: 1 roadwork, 0 clear, -1 none
    verdict: BOOL  # the stored (production) verdict
    escalated: BOOL  # whether production escalated the event

    def __len__(self) -> int:
        return len(self.score)


@dataclass(frozen=True)
class Policy:
    """Bands and accept levels to replay: `low`/`high` replace every event's stored band, `bands` one
    source's (`source -> (low, high)`, over the global); `accept` per tier below the top."""

    low: float | None = None
    high: float | None = None
    bands: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    accept: Mapping[str, float] = field(default_factory=dict)
    detector_midpoint: float = 0.3

    def __post_init__(self) -> None:
        for name, (lo, hi) in {"global": (self.low, self.high), **self.bands}.items():
            if (lo is None) != (hi is None):
                raise ValueError(f"{name} band: give both low and high")
            if lo is not None and hi is not None and not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"{name} band needs 0 <= low <= high <= 1, got {lo}, {hi}")


@dataclass(frozen=True)
class Paths:
    """Where each event ends under a policy."""

    decided_by: I8  # DETECTOR, k + 1 for tier k, UNKNOWN
    roadwork: BOOL
    escalated: BOOL
    degraded: BOOL
    calls: npt.NDArray[np.int16]  # (events, tiers): calls to each tier
    unseen: I8  # an UNKNOWN event's tier that never saw it (k of VLM_TIERS), else -1


def bands(stored: Stored, policy: Policy) -> tuple[F64, F64]:
    """Each event's (low, high) under `policy`."""
    n = len(stored)
    low = stored.low if policy.low is None else np.full(n, policy.low)
    high = stored.high if policy.high is None else np.full(n, policy.high)
    if policy.bands:
        low, high = low.copy(), high.copy()
        codes = {s: i for i, s in enumerate(stored.sources)}
        for source, (lo, hi) in policy.bands.items():
            if source in codes:
                mine = stored.source == codes[source]
                low[mine], high[mine] = lo, hi
    return low, high


def replay(stored: Stored, policy: Policy) -> Paths:
    """The path of every stored event under `policy`."""
    n = len(stored)
    low, high = bands(stored, policy)
    roadwork = stored.score >= high
    escalated = ~roadwork & (stored.score >= low)
    decided_by = np.zeros(n, np.int8)
    degraded = np.zeros(n, bool)
    calls = np.zeros((n, len(VLM_TIERS)), np.int16)
    unseen_at = np.full(n, -1, np.int8)
    active = escalated.copy()
    for k, tier in enumerate(VLM_TIERS):
        top = k == len(VLM_TIERS) - 1
        col = stored.tiers[tier]
        calls[active, k] += 1
        unseen = active & (col.outcome == NO_OPINION)
        decided_by[unseen] = UNKNOWN
        unseen_at[unseen] = k
        answered = active & (col.outcome == ANSWERED)
        accept = 0.0 if top else policy.accept.get(tier, 0.0)
        decides = answered & (col.confidence >= accept)
        decided_by[decides] = k + 1
        roadwork[decides] = col.roadwork[decides]
        failed = active & ((col.outcome == FAILED) | ((col.outcome == UNPARSEABLE) & top))
        _fail_over(stored, policy, k, failed, decided_by, roadwork, calls)
        degraded |= failed
        active &= ~(unseen | decides | failed)
    return Paths(decided_by, roadwork, escalated, degraded, calls, unseen_at)


def _fail_over(
    stored: Stored,
    policy: Policy,
    k: int,
    failed: BOOL,
    decided_by: I8,
    roadwork: BOOL,
    calls: npt.NDArray[np.int16],
) -> None:
    """Decide the events that failed at tier `k`: the tier below's stored answer, else the detector's."""
    by_detector = failed
    if k > 0:
        below = stored.tiers[VLM_TIERS[k - 1]]
        answers = failed & (below.outcome == ANSWERED)
        calls[failed, k - 1] += 1
        decided_by[answers] = k
        roadwork[answers] = below.roadwork[answers]
        by_detector = failed & ~answers
    decided_by[by_detector] = DETECTOR
    roadwork[by_detector] = stored.score[by_detector] >= policy.detector_midpoint


def figures(stored: Stored, paths: Paths, cost: Mapping[str, float]) -> dict[str, Any]:
    """Decided-by counts, escalation rate, tier calls, cost, accuracy and MCC on the labelled events whose
    answer is known, and how many events are unknown."""
    n = len(stored)
    known = paths.decided_by != UNKNOWN
    counts = np.bincount(paths.decided_by[known], minlength=len(DECIDERS))
    tier_calls = {t: int(paths.calls[:, k].sum()) for k, t in enumerate(VLM_TIERS)}
    total_cost = sum(tier_calls[t] * cost.get(t, 0.0) for t in VLM_TIERS)
    scored = known & (stored.truth >= 0)
    confusion = Confusion.of_arrays(stored.truth[scored] == 1, paths.roadwork[scored])
    production = Confusion.of_arrays(stored.truth[stored.truth >= 0] == 1, stored.verdict[stored.truth >= 0])
    return {
        "events": n,
        "decided_by": {name: int(c) for name, c in zip(DECIDERS, counts, strict=True)},
        "escalation_rate": round(float(paths.escalated.mean()), 4) if n else 0.0,
        "tier_calls": tier_calls,
        "cost": round(total_cost, 4),
        "cost_per_event": round(total_cost / n, 6) if n else 0.0,
        "degraded": int(paths.degraded.sum()),
        "unknown": int((~known).sum()),
        "unknown_labelled": int((~known & (stored.truth >= 0)).sum()),
        **confusion.as_dict(),
        "production": {
            "escalation_rate": round(float(stored.escalated.mean()), 4) if n else 0.0,
            "accuracy": round(production.accuracy, 4),
            "mcc": round(production.mcc, 4),
        },
    }
