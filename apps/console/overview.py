"""What the Overview shows, computed once for the page and for `roadwatch report` (the same numbers and
the same charts in both): the funnel, the tiers, verdicts by deciding tier and over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.console import charts
from roadwatch.analytics.queries import run_query
from roadwatch.analytics.tables import Tables


def overview(tables: Tables, since: datetime | None) -> dict[str, Any]:
    """The Overview's numbers and charts (SVG) for the window from `since` (None: everything)."""
    funnel = run_query("funnel", since=since, tables=tables)[0]
    rows = tables.read("verdicts", since=since, columns=("roadwork", "captured_at")).to_pylist()
    return {
        "funnel": funnel,
        "tiers": run_query("tiers", since=since, tables=tables),
        "decided_by": charts.bars(funnel["decided_by"], "verdicts"),
        "over_time": charts.over_time(
            {
                "roadwork": [r["captured_at"] for r in rows if r["roadwork"]],
                "clear": [r["captured_at"] for r in rows if not r["roadwork"]],
            },
            "verdicts",
        ),
    }
