"""`replay --rerun`: replay, ask the real tiers about the events that reach a tier that never saw them
(`unknown`), store their answers apart from production, and replay again with them, until no event is left
that a tier has not been asked about. The asking is injected (`Asker`); the loop is plain.

An event is asked of the tier where its replayed path found no opinion (`Paths.unseen`); one image is asked
of one tier once per rerun (events sharing an image share its answer, as stored opinions are keyed by
`image_sha256`); an event without a stored image (no detection row) cannot be asked and stays unknown, as
does one whose tier gave no answer (its breaker refused, its image could not be fetched)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from roadwatch.analytics.replay import Paths, Policy, Stored, replay
from roadwatch.analytics.stored import from_arrow
from schemas.records import VLM_TIERS, VlmTier

# Asks `tier` about the events in the rows (of `stored.events`' columns), stores the answers, and returns
# how many opinions it stored.
Asker = Callable[[VlmTier, pa.Table], int]


@dataclass(frozen=True)
class Rerun:
    events: Stored
    paths: Paths
    asked: dict[str, int]  # images asked, per tier
    answered: dict[str, int]  # opinions stored, per tier
    rounds: int


def pending(table: pa.Table, paths: Paths, tried: set[tuple[str, str]]) -> dict[VlmTier, pa.Table]:
    """Per tier, the rows of the events whose path reaches it unseen: one per image, none without an image,
    none of an image already `tried` on that tier."""
    shas = table.column("image_sha256").to_pylist()
    out: dict[VlmTier, pa.Table] = {}
    for k, tier in enumerate(VLM_TIERS):
        picked, seen = [], set()
        for i in np.flatnonzero(paths.unseen == k):
            sha = shas[i]
            if sha is None or sha in seen or (sha, tier) in tried:
                continue
            seen.add(sha)
            picked.append(i)
        if picked:
            out[tier] = table.take(picked)
    return out


def rerun(load: Callable[[], pa.Table], policy: Policy, ask: Asker) -> Rerun:
    """Replay `load()`'s events under `policy`, asking `ask` about what is unknown, until nothing is left to
    ask; `load` must read back what `ask` stored."""
    tried: set[tuple[str, str]] = set()
    asked: dict[str, int] = dict.fromkeys(VLM_TIERS, 0)
    answered: dict[str, int] = dict.fromkeys(VLM_TIERS, 0)
    rounds = 0
    while True:
        table = load()
        events = from_arrow(table)
        paths = replay(events, policy)
        todo = pending(table, paths, tried)
        if not todo:
            return Rerun(events, paths, dict(asked), dict(answered), rounds)
        rounds += 1
        for tier, rows in todo.items():
            tried.update((sha, tier) for sha in rows.column("image_sha256").to_pylist())
            asked[tier] += rows.num_rows
            answered[tier] += ask(tier, rows)
