"""Replay over stored tables (a real catalog, written through the sink's writer): the columns read back, the
stored bands reproducing the stored verdicts, and `roadwatch replay` on top."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.cli import main
from roadwatch.analytics import stored
from roadwatch.analytics.replay import ANSWERED, NO_OPINION, Policy, replay
from tests.labelled_tables import labelled_verdict, new_label, open_tables, opinion, write_events

SHAS = [f"{i:064x}" for i in range(5)]


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path))
    tables = open_tables(tmp_path)
    vs = [
        labelled_verdict(0, "cam-0", 0.9, [], True),
        labelled_verdict(1, "cam-0", 0.05, [], False),
        labelled_verdict(2, "cam-1", 0.3, [opinion("fast", True, 0.9)], True),
        labelled_verdict(3, "cam-1", 0.3, [opinion("fast", False, 0.5), opinion("power", True, 0.8)], True),
        labelled_verdict(4, "cam-1", 0.1, [], False),
    ]
    labels = [
        new_label(v, sha, truth, 1)
        for v, sha, truth in zip(vs, SHAS, [True, True, True, False, False], strict=True)
    ]
    write_events(tables, vs, SHAS, labels)
    return tmp_path


def test_the_columns_read_back_and_the_stored_bands_give_the_stored_verdicts(warehouse: Path) -> None:
    events = stored.load(open_tables(warehouse), (0.15, 0.45))
    assert len(events) == 5
    assert sorted(events.truth.tolist()) == [0, 0, 1, 1, 1]
    fast = events.tiers["fast"]
    assert sorted(fast.outcome.tolist()) == [NO_OPINION] * 3 + [ANSWERED] * 2
    assert sorted(events.tiers["power"].confidence.tolist()) == [0.0] * 4 + [0.8]
    paths = replay(events, Policy(accept={"fast": 0.7, "power": 0.65}))
    assert paths.roadwork.tolist() == events.verdict.tolist()
    assert paths.escalated.tolist() == events.escalated.tolist()


def replay_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["replay", *args, "--json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return out


def test_the_cli_compares_a_wider_band_with_production(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = replay_json(capsys)
    assert same["escalation_rate"] == same["production"]["escalation_rate"] == 0.4  # type: ignore[index]
    assert (same["unknown"], same["mcc"]) == (0, same["production"]["mcc"])  # type: ignore[index]
    wide = replay_json(capsys, "--low", "0.05", "--high", "0.95")
    assert wide["escalation_rate"] == 1.0
    assert wide["unknown"] == 3  # events 0, 1 and 4 would reach fast, which never saw them
    assert {"mcc", "tier_calls", "cost", "decided_by"} <= set(wide)
    one = replay_json(capsys, "--band", "cam-1=0.0:0.05", "--source", "cam-1")
    assert (one["events"], one["escalation_rate"], one["cost"]) == (3, 0.0, 0.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--low", "0.5"], "give both low and high"),
        (["--low", "0.6", "--high", "0.4"], "0 <= low <= high <= 1"),
    ],
)
def test_a_bad_band_is_a_one_line_error(
    warehouse: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["replay", *args]) == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
