"""`replay`: each stored event's path under other bands and accept levels, and the figures of those paths."""

from __future__ import annotations

import numpy as np
import pytest

from roadwatch.analytics.replay import (
    ANSWERED,
    DETECTOR,
    FAILED,
    NO_OPINION,
    UNKNOWN,
    UNPARSEABLE,
    Policy,
    Stored,
    TierColumn,
    figures,
    replay,
)

COST = {"fast": 1.0, "power": 4.0, "precision": 16.0}
ACCEPT = {"fast": 0.7, "power": 0.65}


def stored(rows: list[dict[str, object]]) -> Stored:
    """Events from rows: score, band, truth, and per tier (outcome, roadwork, confidence) or absent."""

    def tier(name: str) -> TierColumn:
        cells = [r.get(name, (NO_OPINION, False, 0.0)) for r in rows]
        return TierColumn(
            np.array([c[0] for c in cells], np.int8),  # type: ignore[index]
            np.array([c[1] for c in cells], bool),  # type: ignore[index]
            np.array([c[2] for c in cells], np.float64),  # type: ignore[index]
        )

    names = sorted({str(r.get("source", "cam-1")) for r in rows})
    return Stored(
        sources=names,
        source=np.array([names.index(str(r.get("source", "cam-1"))) for r in rows], np.int32),
        score=np.array([r["score"] for r in rows], np.float64),
        low=np.full(len(rows), 0.15),
        high=np.full(len(rows), 0.45),
        tiers={t: tier(t) for t in ("fast", "power", "precision")},
        truth=np.array([r.get("truth", -1) for r in rows], np.int8),
        verdict=np.array([r.get("verdict", False) for r in rows], bool),
        escalated=np.array([0.15 <= float(r["score"]) < 0.45 for r in rows], bool),  # type: ignore[arg-type]
    )


EVENTS = stored(
    [
        {"score": 0.9, "truth": 1, "verdict": True},  # 0: detector roadwork
        {"score": 0.05, "truth": 0},  # 1: detector clear
        {"score": 0.3, "fast": (ANSWERED, True, 0.8), "truth": 1, "verdict": True},  # 2: fast decides
        {  # 3: fast unsure, power decides
            "score": 0.3,
            "fast": (ANSWERED, True, 0.5),
            "power": (ANSWERED, False, 0.9),
            "truth": 0,
        },
        {  # 4: fast unparseable, power unsure, precision decides whatever its confidence
            "score": 0.2,
            "fast": (UNPARSEABLE, False, 0.0),
            "power": (ANSWERED, False, 0.3),
            "precision": (ANSWERED, True, 0.1),
            "truth": 1,
        },
        {"score": 0.4, "fast": (FAILED, False, 0.0), "truth": 1},  # 5: fast failed: detector midpoint
        {  # 6: power failed: fails over to fast's stored answer
            "score": 0.3,
            "fast": (ANSWERED, True, 0.6),
            "power": (FAILED, False, 0.0),
            "truth": 1,
        },
    ]
)


def test_the_stored_bands_replay_the_ladder() -> None:
    paths = replay(EVENTS, Policy(accept=ACCEPT, detector_midpoint=0.3))
    assert paths.decided_by.tolist() == [DETECTOR, DETECTOR, 1, 2, 3, DETECTOR, 1]
    assert paths.roadwork.tolist() == [True, False, True, False, True, True, True]
    assert paths.escalated.tolist() == [False, False, True, True, True, True, True]
    assert paths.degraded.tolist() == [False, False, False, False, False, True, True]
    # calls per tier: fast by 2..6 and again by 6's failover; power by 3, 4, 6; precision by 4
    assert paths.calls.sum(axis=0).tolist() == [6, 3, 1]


def test_an_accept_level_moves_who_decides() -> None:
    paths = replay(EVENTS, Policy(accept={"fast": 0.5, "power": 0.65}))
    assert paths.decided_by[3] == 1  # fast's 0.5 now suffices


def test_a_wider_band_sends_events_to_a_tier_that_never_saw_them() -> None:
    paths = replay(EVENTS, Policy(low=0.0, high=1.0, accept=ACCEPT))
    assert paths.decided_by[0] == UNKNOWN and paths.decided_by[1] == UNKNOWN
    got = figures(EVENTS, paths, COST)
    assert (got["unknown"], got["unknown_labelled"], got["escalation_rate"]) == (2, 2, 1.0)
    assert got["labelled"] == 5  # the unknown are not scored


def test_a_source_band_overrides_the_global_one() -> None:
    two = stored([{"score": 0.3, "source": "cam-1"}, {"score": 0.3, "source": "cam-2"}])
    paths = replay(two, Policy(low=0.1, high=0.2, bands={"cam-2": (0.5, 0.6)}))
    assert paths.roadwork.tolist() == [True, False]
    assert paths.decided_by.tolist() == [DETECTOR, DETECTOR]


def test_figures_count_costs_and_score_against_the_labels() -> None:
    got = figures(EVENTS, replay(EVENTS, Policy(accept=ACCEPT, detector_midpoint=0.3)), COST)
    assert got["decided_by"] == {"detector": 3, "fast": 2, "power": 1, "precision": 1}
    assert got["tier_calls"] == {"fast": 6, "power": 3, "precision": 1}
    assert got["cost"] == pytest.approx(6 + 12 + 16)
    assert (got["tp"], got["fp"], got["tn"], got["fn"]) == (5, 0, 2, 0)
    assert got["mcc"] == 1.0
    assert got["escalation_rate"] == pytest.approx(5 / 7, abs=1e-4)
    assert got["production"]["escalation_rate"] == pytest.approx(5 / 7, abs=1e-4)


def test_detector_only_bands_call_no_tier() -> None:
    got = figures(EVENTS, replay(EVENTS, Policy(low=0.5, high=0.5)), COST)
    assert (got["cost"], got["escalation_rate"], got["unknown"]) == (0.0, 0.0, 0)


@pytest.mark.parametrize(("low", "high"), [(0.6, 0.4), (-0.1, 0.5), (0.2, None)])
def test_an_impossible_band_is_refused(low: float, high: float | None) -> None:
    with pytest.raises(ValueError, match="band"):
        Policy(low=low, high=high)
