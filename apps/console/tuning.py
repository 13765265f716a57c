"""What the Tuning page and `roadwatch report` show: every band of the tune grid replayed over the labelled
events, cost per event against MCC, and the Pareto front (the bands no other beats on both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.console import charts
from apps.tuning import labelled_events, production_policy
from roadwatch.analytics.settings import QuerySettings
from roadwatch.analytics.tables import Tables
from roadwatch.analytics.tune import Point, pareto, scan


def tuning(tables: Tables, since: datetime | None, step: float = 0.05) -> dict[str, Any]:
    """The chart (SVG) and the front's rows, over the labelled events captured since `since`."""
    events = labelled_events(tables, since)
    points = scan(events, production_policy(), QuerySettings().tier_cost, step=step) if len(events) else []
    front = pareto(points)

    def dot(p: Point) -> tuple[float, float, str]:
        return p.figures["cost_per_event"], p.figures["mcc"], f"{p.low:.2f} to {p.high:.2f}"

    return {
        "labelled": len(events),
        "pareto": charts.pareto(
            [dot(p) for p in points if p.figures["unknown_rate"] == 0], [dot(p) for p in front]
        ),
        "front": [{"low": p.low, "high": p.high, **p.figures} for p in front],
    }
