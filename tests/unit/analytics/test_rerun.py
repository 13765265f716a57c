"""`replay --rerun`'s loop with a fake asker: who is asked of which tier, once, and the replay recomputed with
the answers until nothing is left to ask."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from roadwatch.analytics.replay import Policy, replay
from roadwatch.analytics.rerun import pending, rerun
from roadwatch.analytics.stored import from_arrow
from schemas.records import VLM_TIERS, VlmTier

WIDE = Policy(low=0.05, high=0.95, accept={"fast": 0.7, "power": 0.65})
Answer = tuple[str, bool, float]


def table(shas: list[str | None], answers: dict[tuple[str, str], Answer]) -> pa.Table:
    """Events (score 0.5, all escalated under WIDE) with the `answers` stored of their images."""
    n = len(shas)
    columns: dict[str, Any] = {
        "event_id": [f"e{i}" for i in range(n)],
        "image_sha256": shas,
        "source_id": ["cam"] * n,
        "score": [0.5] * n,
        "low": [0.15] * n,
        "high": [0.45] * n,
        "verdict": [True] * n,
        "escalated": [False] * n,
        "truth": [1] * n,
    }
    for tier in VLM_TIERS:
        cells = [answers.get((s, tier)) if s else None for s in shas]
        columns[tier] = pa.array(
            [None if c is None else {"outcome": c[0], "roadwork": c[1], "confidence": c[2]} for c in cells],
            pa.struct([("outcome", pa.string()), ("roadwork", pa.bool_()), ("confidence", pa.float64())]),
        )
    return pa.table(columns)


def test_pending_asks_each_image_once_and_never_what_has_no_image() -> None:
    t = table(["a", "a", None, "b"], {})
    paths = replay(from_arrow(t), WIDE)
    todo = pending(t, paths, tried={("b", "fast")})
    assert list(todo) == ["fast"]
    assert todo["fast"].column("event_id").to_pylist() == ["e0"]


def test_the_loop_climbs_tier_by_tier_until_no_event_is_unknown() -> None:
    answers: dict[tuple[str, str], Answer] = {}
    shas: list[str | None] = ["a", "b", "c"]
    said: dict[str, Answer] = {  # a: fast is sure; b: fast unsure, power sure; c: unsure up to precision
        "a": ("answered", True, 0.9),
        "b": ("answered", True, 0.5),
        "c": ("unparseable", False, 0.0),
    }
    calls: list[tuple[VlmTier, list[str]]] = []

    def ask(tier: VlmTier, rows: pa.Table) -> int:
        asked = rows.column("image_sha256").to_pylist()
        calls.append((tier, asked))
        for sha in asked:
            answers[(sha, tier)] = (
                said[sha] if tier == "fast" else ("answered", False, 0.6 if sha == "c" else 0.8)
            )
        return len(asked)

    done = rerun(lambda: table(shas, answers), WIDE, ask)
    assert calls == [("fast", ["a", "b", "c"]), ("power", ["b", "c"]), ("precision", ["c"])]
    assert (done.rounds, done.asked, done.answered) == (
        3,
        {"fast": 3, "power": 2, "precision": 1},
        done.asked,
    )
    assert done.paths.decided_by.tolist() == [1, 2, 3]
    assert done.paths.roadwork.tolist() == [True, False, False]


def test_an_event_no_tier_answers_is_asked_once_and_stays_unknown() -> None:
    calls: list[VlmTier] = []

    def ask(tier: VlmTier, rows: pa.Table) -> int:
        calls.append(tier)
        return 0

    done = rerun(lambda: table(["a", None], {}), WIDE, ask)
    assert calls == ["fast"] and done.rounds == 1
    assert done.answered == dict.fromkeys(VLM_TIERS, 0)
    assert np.all(done.paths.unseen == 0)
