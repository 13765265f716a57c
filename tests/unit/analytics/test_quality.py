"""`query quality`: the final verdicts against the newest label of each image, overall, per deciding tier
and per source (tables written through the sink's own writer)."""

import json
from pathlib import Path

import pytest

from apps.cli import main
from roadwatch.analytics.queries import run_query
from tests.labelled_tables import labelled_verdict, new_label, open_tables, opinion, write_events

SHAS = [f"{i:064x}" for i in range(6)]


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path))
    tables = open_tables(tmp_path)
    fast = [opinion("fast", True, 0.9)]
    vs = [
        labelled_verdict(0, "cam-0", 0.9, [], True),  # detector, right
        labelled_verdict(1, "cam-0", 0.05, [], False),  # detector, wrong (truth: roadwork)
        labelled_verdict(2, "cam-1", 0.3, fast, True),  # fast, right
        labelled_verdict(3, "cam-1", 0.3, fast, True),  # fast: labelled roadwork, then corrected to clear
        labelled_verdict(4, "cam-1", 0.02, [], False),  # detector, right
        labelled_verdict(5, "cam-1", 0.02, [], False),  # no label: left out
    ]
    labels = [
        new_label(vs[0], SHAS[0], True, 1),
        new_label(vs[1], SHAS[1], True, 1),
        new_label(vs[2], SHAS[2], True, 1),
        new_label(vs[3], SHAS[3], True, 1),
        new_label(vs[3], SHAS[3], False, 9, origin="human"),  # newer: supersedes
        new_label(vs[0], SHAS[4], False, 1),  # made on a cam-0 event showing cam-1's image 4
    ]
    write_events(tables, vs, SHAS, labels)
    return tmp_path


def by_key(rows: list[dict[str, object]]) -> dict[tuple[object, object], dict[str, object]]:
    return {(r["scope"], r["key"]): r for r in rows}


def test_figures_overall_per_tier_and_per_source(warehouse: Path) -> None:
    rows = by_key(run_query("quality"))
    overall = rows[("all", "all")]
    assert (overall["labelled"], overall["tp"], overall["fp"], overall["tn"], overall["fn"]) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert overall["accuracy"] == pytest.approx(3 / 5)
    assert overall["mcc"] == pytest.approx((2 * 1 - 1 * 1) / (3 * 3 * 2 * 2) ** 0.5, abs=1e-4)
    assert (rows[("tier", "fast")]["tp"], rows[("tier", "fast")]["fp"]) == (1, 1)
    assert rows[("tier", "detector")]["labelled"] == 3
    assert rows[("source", "cam-0")]["recall"] == pytest.approx(0.5)
    assert rows[("source", "cam-1")]["labelled"] == 3


def test_the_source_filter_keeps_labels_of_the_image_from_any_source(warehouse: Path) -> None:
    rows = by_key(run_query("quality", source="cam-1"))
    assert set(rows) == {("all", "all"), ("tier", "fast"), ("tier", "detector"), ("source", "cam-1")}
    assert rows[("all", "all")]["labelled"] == 3


def test_the_cli_prints_the_rows(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "quality", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert by_key(rows)[("all", "all")]["labelled"] == 5


def test_no_labels_no_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path))
    open_tables(tmp_path)
    assert run_query("quality") == []
