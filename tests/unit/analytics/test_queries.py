"""Every named question answered on tables filled through the sink's own writer (real SQLite catalog)."""

import json
from pathlib import Path

import pytest
from confluent_kafka import Message

from apps.cli import main
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from services.sink.convert import to_arrow
from services.sink.writer import TableWriter
from tests.factories import dead_letter_record, detection_result, source_state, verdict


@pytest.fixture
def filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path))
    settings = CatalogSettings()
    tables = ensure_tables(open_catalog(settings), settings.namespace)
    verdicts = [verdict(i, source=f"cam-{i % 2}") for i in range(6)]
    verdicts.append(
        verdict(
            6,
            source="cam-0",
            decided_by="detector",
            tier_path=["detector"],
            opinions=[],
            degraded=True,
            degraded_reason="fast: circuit open",
        )
    )
    rows = {
        "verdicts": verdicts,
        "detections": [
            detection_result(i, source=f"cam-{i % 2}", event_id=v.event_id) for i, v in enumerate(verdicts)
        ],
        "source_state": [source_state(i) for i in range(3)],
        "dead_letters": [dead_letter_record(i) for i in range(2)],
    }
    for name, recs in rows.items():
        w = TableWriter(tables[name], retries=1)
        batch = [
            Message(
                topic=name,
                partition=0,
                offset=i,
                key=r.source_id.encode(),
                value=r.model_dump_json().encode(),
            )
            for i, r in enumerate(recs)
        ]
        w.commit(to_arrow(name, w.arrow_schema, batch).table, {(name, 0): 0}, {(name, 0): len(recs)})
    return {"event_id": verdicts[0].event_id}


def query(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert main(["query", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_funnel(filled: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    funnel = query(capsys, "funnel")
    assert funnel["images"] == 7 and funnel["verdicts"] == 7 and funnel["degraded"] == 1
    assert funnel["dead_letters"] == 2 and funnel["decided_by"] == {"detector": 1, "fast": 6}


def test_source_filter_is_pushed_down(filled: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert query(capsys, "funnel", "--source", "cam-1")["verdicts"] == 3


def test_tiers_models_confidence_timeline_dead_letters(
    filled: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    (tier,) = query(capsys, "tiers")
    assert (tier["tier"], tier["backend"], tier["calls"], tier["cost_estimate"]) == ("fast", "local", 6, 0.0)
    (model,) = query(capsys, "models")
    assert model["prompt_version"] == "local-v1" and model["calls"] == 6
    assert {r["source_id"] for r in query(capsys, "confidence")} == {"cam-0", "cam-1"}
    assert all(r["alert"] in ("roadwork_started", "roadwork_cleared") for r in query(capsys, "timeline"))
    (dl,) = query(capsys, "dead-letters")
    assert (dl["service"], dl["reason"], dl["n"]) == ("detector", "not_an_image", 2)


def test_why_shows_the_tier_path_and_versions(
    filled: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    trail = query(capsys, "why", filled["event_id"])
    tables = [step["table"] for step in trail]
    assert tables == ["detections", "verdicts"]
    v = trail[1]
    assert v["tier_path"] == ["detector", "fast"]
    assert v["opinions"][0]["model"] == "cone+coco" and v["opinions"][0]["prompt_version"] == "local-v1"


def test_report_is_the_overview_in_one_file(
    filled: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    funnel = query(capsys, "funnel")
    assert main(["report", "--out", str(tmp_path / "r")]) == 0
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["index.html"]
    page = (tmp_path / "r" / "index.html").read_text()
    for key in ("images", "verdicts", "degraded", "dead_letters"):
        assert f'data-metric="{key}"><span class="n">{funnel[key]}</span>' in page  # type: ignore[index]
    assert "time (UTC)" in page and "<script" not in page and "/api/" not in page
