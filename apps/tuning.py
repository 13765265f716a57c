"""What replay, tune, the console's Tuning page and `roadwatch report` share: the production policy (the
tiers' configured accept levels and detection-only midpoint) and the stored labelled events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from roadwatch.analytics import stored
from roadwatch.analytics.opinions import OpinionStore
from roadwatch.analytics.replay import Policy, Stored
from roadwatch.analytics.tables import Tables
from roadwatch.analytics.tune import subset
from schemas.evaluation import AskedBy
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


def asked_opinions(tables: Tables, asked: Sequence[AskedBy]) -> list[pa.Table]:
    """The stored opinions of each of `asked` (`dense`: `eval --dense`'s, `rerun`: `replay --rerun`'s)."""
    return [OpinionStore.open(tables.catalog, tables.namespace, a).read() for a in asked]


def stored_table(
    tables: Tables, since: datetime | None = None, source: str | None = None, asked: Sequence[AskedBy] = ()
) -> pa.Table:
    """The stored events as `stored.events` rows (those without a stored detection get the configured
    band), the opinions `asked` filling in the tiers their verdicts have none of."""
    default = DetectorSettings().band()
    extra = asked_opinions(tables, asked)
    return stored.events(tables, (default.low, default.high), since=since, source=source, asked=extra)


def stored_events(
    tables: Tables, since: datetime | None = None, source: str | None = None, asked: Sequence[AskedBy] = ()
) -> Stored:
    """`stored_table` as replay columns."""
    return stored.from_arrow(stored_table(tables, since, source, asked))


def labelled_events(
    tables: Tables, since: datetime | None = None, source: str | None = None, asked: Sequence[AskedBy] = ()
) -> Stored:
    """The stored events whose image has a label."""
    events = stored_events(tables, since, source, asked)
    return subset(events, events.truth >= 0)
