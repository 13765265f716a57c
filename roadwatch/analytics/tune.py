"""The cheapest bands that meet an accuracy target on labelled events (pure): every band of a grid replayed
(`replay`) over the labelled events whose answer every band can know, the feasible one of least tier cost
kept (ties: the higher MCC), and its figures' bootstrap intervals."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from roadwatch.analytics.replay import BOOL, UNKNOWN, Paths, Policy, Stored, TierColumn, replay
from roadwatch.analytics.scores import Confusion
from schemas.records import VLM_TIERS

INTERVAL = (2.5, 97.5)  # percentiles of the bootstrap: a 95 % interval


@dataclass(frozen=True)
class Target:
    min_recall: float | None = None
    min_precision: float | None = None
    max_escalation: float | None = None
    max_unknown: float = 0.0  # the share of labelled events a band may send to a tier that never saw them


@dataclass(frozen=True)
class Choice:
    low: float
    high: float
    events: int  # labelled events it was chosen on
    predicted: dict[str, float]
    interval: dict[str, tuple[float, float]]


def subset(stored: Stored, mask: BOOL) -> Stored:
    """The events of `stored` where `mask` holds."""
    tiers = {
        t: TierColumn(c.outcome[mask], c.roadwork[mask], c.confidence[mask]) for t, c in stored.tiers.items()
    }
    return Stored(
        sources=stored.sources,
        source=stored.source[mask],
        score=stored.score[mask],
        low=stored.low[mask],
        high=stored.high[mask],
        tiers=tiers,
        truth=stored.truth[mask],
        verdict=stored.verdict[mask],
        escalated=stored.escalated[mask],
    )


def _per_event(stored: Stored, paths: Paths, cost: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Per event: escalated, cost, unknown, truth and prediction (for the figures and their bootstrap)."""
    prices = np.array([cost.get(t, 0.0) for t in VLM_TIERS])
    return {
        "escalated": paths.escalated,
        "cost": paths.calls @ prices,
        "unknown": paths.decided_by == UNKNOWN,
        "truth": stored.truth == 1,
        "predicted": paths.roadwork,
    }


def _figures(e: dict[str, np.ndarray], rows: np.ndarray | slice = slice(None)) -> dict[str, float]:
    known = ~e["unknown"][rows]
    c = Confusion.of_arrays(e["truth"][rows][known], e["predicted"][rows][known])
    return {
        "escalation_rate": float(e["escalated"][rows].mean()),
        "cost_per_event": float(e["cost"][rows].mean()),
        "unknown_rate": float(e["unknown"][rows].mean()),
        "accuracy": c.accuracy,
        "precision": c.precision,
        "recall": c.recall,
        "mcc": c.mcc,
    }


def _meets(f: dict[str, float], target: Target) -> bool:
    return (
        (target.min_recall is None or f["recall"] >= target.min_recall)
        and (target.min_precision is None or f["precision"] >= target.min_precision)
        and (target.max_escalation is None or f["escalation_rate"] <= target.max_escalation)
        and f["unknown_rate"] <= target.max_unknown
    )


def grid(step: float) -> list[tuple[float, float]]:
    """Every band (low <= high) on a grid of `step` over [0, 1]."""
    points = np.round(np.linspace(0.0, 1.0, round(1 / step) + 1), 6).tolist()
    return [(lo, hi) for i, lo in enumerate(points) for hi in points[i:]]


@dataclass(frozen=True)
class Point:
    """One band of the grid and its figures on the labelled events."""

    low: float
    high: float
    figures: dict[str, float]


def scan(labelled: Stored, base: Policy, cost: Mapping[str, float], *, step: float = 0.05) -> list[Point]:
    """Every band of a grid of `step`, replayed over `labelled`."""
    return [
        Point(lo, hi, _figures(_per_event(labelled, replay(labelled, _banded(base, lo, hi)), cost)))
        for lo, hi in grid(step)
    ]


def pareto(points: list[Point], max_unknown: float = 0.0) -> list[Point]:
    """The bands no other beats on both cost per event (lower) and MCC (higher), among those whose
    unknown share is at most `max_unknown`; cheapest first."""
    known = sorted(
        (p for p in points if p.figures["unknown_rate"] <= max_unknown),
        key=lambda p: (p.figures["cost_per_event"], -p.figures["mcc"]),
    )
    front: list[Point] = []
    for p in known:
        if not front or p.figures["mcc"] > front[-1].figures["mcc"]:
            front.append(p)
    return front


def choose(
    labelled: Stored,
    base: Policy,
    target: Target,
    cost: Mapping[str, float],
    *,
    step: float = 0.05,
    rounds: int = 200,
    seed: int = 0,
    points: list[Point] | None = None,
) -> Choice | None:
    """The band of least cost per event meeting `target` on `labelled` (events with a label), with its
    figures and their bootstrap intervals (`rounds` resamples); None when no band of the grid meets it.
    `points`: the grid already scanned (`scan`) over the same events."""
    grid_points = points if points is not None else scan(labelled, base, cost, step=step)
    feasible = [p for p in grid_points if _meets(p.figures, target)]
    if not feasible:
        return None
    best = min(feasible, key=lambda p: (p.figures["cost_per_event"], -p.figures["mcc"]))
    e = _per_event(labelled, replay(labelled, _banded(base, best.low, best.high)), cost)
    return Choice(best.low, best.high, len(labelled), _round(best.figures), _bootstrap(e, rounds, seed))


def _banded(base: Policy, low: float, high: float) -> Policy:
    return dataclasses.replace(base, low=low, high=high, bands={})


def _bootstrap(e: dict[str, np.ndarray], rounds: int, seed: int) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    n = len(e["truth"])
    samples = [_figures(e, rng.integers(0, n, n)) for _ in range(rounds)] if n else []
    return {
        k: tuple(round(float(v), 4) for v in np.percentile([s[k] for s in samples], INTERVAL))  # type: ignore[misc]
        for k in (samples[0] if samples else {})
    }


def _round(f: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in f.items()}


def as_dict(choice: Choice) -> dict[str, Any]:
    return {
        "low": choice.low,
        "high": choice.high,
        "labelled_events": choice.events,
        "predicted": choice.predicted,
        "interval_95": {k: list(v) for k, v in choice.interval.items()},
    }
