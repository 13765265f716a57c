"""What replay, tune, the console's Tuning page and `roadwatch report` share: the production policy (the
tiers' configured accept levels and detection-only midpoint) and the stored labelled events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roadwatch.analytics import stored
from roadwatch.analytics.replay import Policy, Stored
from roadwatch.analytics.tables import Tables
from roadwatch.analytics.tune import subset
from schemas.records import VLM_TIERS
from services.detector.settings import DetectorSettings
from services.vlm_tier.settings import tier_settings


def production_policy(**overrides: Any) -> Policy:
    """The configured accept levels and detection-only midpoint, with `overrides` (a `Policy`'s fields).

    Raises:
        ValueError: an override `Policy` refuses.
    """
    accept: dict[str, float] = {t: tier_settings(t).ladder().accept for t in VLM_TIERS[:-1]}
    midpoint = tier_settings(VLM_TIERS[0]).detector_midpoint
    given = dict(overrides.pop("accept", {}))
    return Policy(accept=accept | given, detector_midpoint=midpoint, **overrides)


def stored_events(tables: Tables, since: datetime | None = None, source: str | None = None) -> Stored:
    """The stored events as replay columns (those without a stored detection get the configured band)."""
    default = DetectorSettings().band()
    return stored.load(tables, (default.low, default.high), since=since, source=source)


def labelled_events(tables: Tables, since: datetime | None = None, source: str | None = None) -> Stored:
    """The stored events whose image has a label."""
    events = stored_events(tables, since, source)
    return subset(events, events.truth >= 0)
