"""The `thresholds.v1` records that apply tuned bands (pure): the global band as the `default` band, each
source's own band as that source's, each carrying its provenance (what chose it, on how many labelled
events, the predicted figures and their intervals) and the drift its adaptive moves may take."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime

from roadwatch.analytics.tune import Choice, Target
from schemas import DEFAULT_BAND_KEY, BandProvenance, Thresholds

CHOSEN_BY = "roadwatch tune"


def applied_bands(
    overall: Choice,
    per_source: Mapping[str, Choice | None],
    target: Target,
    *,
    drift: float | None,
    applied_by: str,
    now: datetime,
) -> list[Thresholds]:
    """One record for the default band and one per source with a band of its own (None: none found)."""
    chosen = {DEFAULT_BAND_KEY: overall, **{s: c for s, c in per_source.items() if c is not None}}
    aimed = {k: float(v) for k, v in asdict(target).items() if v is not None}
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return [
        Thresholds(
            event_id=f"applied:{source}:{stamp}",
            source_id=source,
            captured_at=now,
            low=c.low,
            high=c.high,
            evidence=c.events,
            updated_at=now,
            origin="applied",
            scope="default" if source == DEFAULT_BAND_KEY else "source",
            drift=drift,
            provenance=BandProvenance(
                chosen_by=CHOSEN_BY,
                applied_by=applied_by,
                target=aimed,
                labelled_events=c.events,
                predicted=c.predicted,
                interval_95={k: list(v) for k, v in c.interval.items()},
            ),
        )
        for source, c in chosen.items()
    ]
