"""`tune`: the cheapest band of the grid that meets the target, its figures and their intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from apps.bench.replay import COST, synthetic
from apps.cli import main
from roadwatch.analytics.replay import Policy, figures, replay
from roadwatch.analytics.tune import Target, choose, grid, pareto, scan, subset
from schemas import DEFAULT_BAND_KEY, Thresholds
from tests.unit.analytics.test_replay_stored import warehouse

__all__ = ["warehouse"]
BASE = Policy(accept={"fast": 0.7, "power": 0.65})
LABELLED = subset(synthetic(20_000, seed=3), synthetic(20_000, seed=3).truth >= 0)


def test_the_grid_holds_every_ordered_band() -> None:
    assert grid(0.5) == [(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]


def test_the_choice_meets_the_target_and_nothing_cheaper_does() -> None:
    target = Target(min_recall=0.8, max_unknown=1.0)
    chosen = choose(LABELLED, BASE, target, COST, step=0.1, rounds=50)
    assert chosen is not None
    assert chosen.predicted["recall"] >= 0.8
    for lo, hi in grid(0.1):
        got = figures(LABELLED, replay(LABELLED, Policy(low=lo, high=hi, accept=BASE.accept)), COST)
        if got["cost_per_event"] < chosen.predicted["cost_per_event"] - 1e-9 and got["unknown"] == 0:
            assert got["recall"] < 0.8 or got["labelled"] == 0
    lo95, hi95 = chosen.interval["recall"]
    assert lo95 <= chosen.predicted["recall"] <= hi95
    assert lo95 < hi95


def test_an_escalation_cap_is_kept_and_an_impossible_target_has_no_choice() -> None:
    capped = choose(LABELLED, BASE, Target(max_escalation=0.1, max_unknown=1.0), COST, step=0.1, rounds=20)
    assert capped is not None and capped.predicted["escalation_rate"] <= 0.1
    assert (
        choose(LABELLED, BASE, Target(min_recall=1.0, min_precision=1.0), COST, step=0.1, rounds=20) is None
    )


def test_the_cli_prints_the_global_band(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "--max-escalation", "0.5", "--bootstrap", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["labelled_events"] == 5
    assert out["global"]["predicted"]["escalation_rate"] <= 0.5
    assert out["global"]["predicted"]["unknown_rate"] == 0.0
    assert set(out["global"]["interval_95"]) >= {"recall", "mcc", "escalation_rate"}
    assert np.isfinite(out["global"]["low"])


def test_the_pareto_front_holds_only_bands_no_other_beats_on_cost_and_mcc() -> None:
    points = scan(LABELLED, BASE, COST, step=0.1)
    front = pareto(points, max_unknown=1.0)
    assert front and front == sorted(front, key=lambda p: p.figures["cost_per_event"])
    mccs = [p.figures["mcc"] for p in front]
    assert mccs == sorted(mccs) and len(set(mccs)) == len(mccs)  # each dearer band is better
    for p in points:
        beaten = any(
            q.figures["cost_per_event"] <= p.figures["cost_per_event"] and q.figures["mcc"] > p.figures["mcc"]
            for q in points
        )
        assert (p in front) <= (not beaten)
    assert all(p.figures["unknown_rate"] == 0 for p in pareto(points))


def test_the_cli_applies_the_bands_with_provenance(
    warehouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, list[tuple[bytes, bytes]]]] = []
    monkeypatch.setattr("roadwatch.kafka.clients.idempotent_producer", lambda kafka: object())
    monkeypatch.setattr(
        "roadwatch.kafka.produce.deliver",
        lambda producer, topic, records, timeout_s: sent.append((topic, list(records))) or len(sent[-1][1]),
    )
    args = ["tune", "--max-escalation", "0.5", "--bootstrap", "20", "--apply", "--drift", "0.1", "--json"]
    assert main([*args, "--by", "alice"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    [(topic, records)] = sent
    assert topic == "thresholds.v1" and out["applied"]["by"] == "alice"
    [(key, value)] = records  # no source has --min-source-events labelled events: the default band only
    t = Thresholds.model_validate_json(value)
    assert key == DEFAULT_BAND_KEY.encode() and (t.scope, t.origin, t.drift) == ("default", "applied", 0.1)
    assert (t.low, t.high) == (out["global"]["low"], out["global"]["high"])
    assert t.provenance is not None and t.provenance.applied_by == "alice"
    assert t.provenance.predicted == out["global"]["predicted"]
    assert t.provenance.target == {"max_escalation": 0.5, "max_unknown": 0.0}
    assert out["pareto"] and all(set(p) == {"low", "high", "cost_per_event", "mcc"} for p in out["pareto"])
