"""`roadwatch bench replay`: the replay core over N synthetic stored events (scores, three tiers' opinions,
labels on a tenth, 50 sources), three policies, median of five rounds each; also the Arrow → columns step
(`stored.from_arrow`) on the same events as a table of the loader's shape. No broker, no catalog."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import pyarrow as pa

from roadwatch.analytics.replay import (
    ANSWERED,
    FAILED,
    UNPARSEABLE,
    Policy,
    Stored,
    TierColumn,
    figures,
    replay,
)
from schemas.records import VLM_TIERS

ROUNDS = 5
COST = {"fast": 1.0, "power": 4.0, "precision": 16.0}
POLICIES = {
    "stored bands": Policy(accept={"fast": 0.7, "power": 0.65}),
    "global 0.05-0.95": Policy(low=0.05, high=0.95, accept={"fast": 0.7, "power": 0.65}),
    "per source (50 bands)": Policy(
        bands={f"cam-{i}": (0.1 + i / 500, 0.5 + i / 500) for i in range(50)},
        accept={"fast": 0.6, "power": 0.6},
    ),
}


def synthetic(n: int, seed: int = 7) -> Stored:
    """`n` events: uniform scores, every tier's opinion of most events (some unparseable or failed)."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.4

    def tier() -> TierColumn:
        outcome = rng.choice(
            np.array([0, ANSWERED, UNPARSEABLE, FAILED], np.int8), n, p=[0.1, 0.84, 0.03, 0.03]
        )
        right = rng.random(n) < 0.85
        return TierColumn(outcome, np.where(right, truth, ~truth), rng.random(n))

    score = rng.random(n)
    return Stored(
        sources=[f"cam-{i}" for i in range(50)],
        source=rng.integers(0, 50, n).astype(np.int32),
        score=score,
        low=np.full(n, 0.15),
        high=np.full(n, 0.45),
        tiers={t: tier() for t in VLM_TIERS},
        truth=np.where(rng.random(n) < 0.1, truth.astype(np.int8), np.int8(-1)).astype(np.int8),
        verdict=score >= 0.3,
        escalated=(score >= 0.15) & (score < 0.45),
    )


def _median_s(step: Any) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _as_table(events: Stored) -> pa.Table:
    """The events as the loader's SQL returns them (struct opinions, text outcomes)."""
    names = np.array(["", "answered", "unparseable", "failed"])
    columns: dict[str, Any] = {
        "source_id": pa.array(np.array(events.sources)[events.source]),
        "score": events.score,
        "low": events.low,
        "high": events.high,
        "verdict": events.verdict,
        "escalated": events.escalated,
        "truth": events.truth,
    }
    for t, col in events.tiers.items():
        seen = col.outcome != 0
        columns[t] = pa.StructArray.from_arrays(
            [pa.array(names[col.outcome]), pa.array(col.roadwork), pa.array(col.confidence)],
            ["outcome", "roadwork", "confidence"],
            mask=pa.array(~seen),
        )
    return pa.table(columns)


def run(events: int) -> dict[str, Any]:
    from roadwatch.analytics.stored import from_arrow

    stored = synthetic(events)
    out: dict[str, Any] = {"events": events, "rounds": ROUNDS}
    for name, policy in POLICIES.items():
        seconds = _median_s(lambda p=policy: figures(stored, replay(stored, p), COST))
        out[f"replay_s[{name}]"] = round(seconds, 3)
    table = _as_table(stored)
    out["from_arrow_s"] = round(_median_s(lambda: from_arrow(table)), 3)
    out["events_per_s[global 0.05-0.95]"] = round(events / out["replay_s[global 0.05-0.95]"])
    return out
