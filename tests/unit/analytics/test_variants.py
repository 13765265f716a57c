"""`query models --variant`: shadow variants against production on tables filled through the sink's writer."""

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from confluent_kafka import Message
from pyiceberg.table import Table

from apps.cli import main
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from schemas import Label, ShadowOpinion, TierOpinion
from schemas.records import Record
from services.sink.convert import to_arrow
from services.sink.writer import TableWriter
from tests.factories import T0, detection_result, verdict

SHA = [f"{i:064x}" for i in range(4)]


def commit(table: Table, name: str, records: Sequence[Record]) -> int:
    """Write `records` as the sink does; returns the rows the table took."""
    writer = TableWriter(table, retries=1)
    batch = [
        Message(
            topic=name, partition=0, offset=i, key=r.source_id.encode(), value=r.model_dump_json().encode()
        )
        for i, r in enumerate(records)
    ]
    converted = to_arrow(name, writer.arrow_schema, batch)
    assert not converted.dead_letters
    writer.commit(converted.table, {(name, 0): 0}, {(name, 0): len(records)})
    return len(table.refresh().scan().to_arrow())


def opinion(roadwork: bool, confidence: float, latency_ms: float, outcome: str = "answered") -> TierOpinion:
    return TierOpinion(
        tier="fast",
        backend="openai",
        model="m",
        prompt_version="v1",
        outcome=outcome,  # type: ignore[arg-type]
        roadwork=roadwork if outcome == "answered" else None,
        confidence=confidence,
        latency_ms=latency_ms,
    )


@pytest.fixture
def tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Table]:
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path))
    settings = CatalogSettings()
    return ensure_tables(open_catalog(settings), settings.namespace)


@pytest.fixture
def filled(tables: dict[str, Table]) -> list[str]:
    """Four events: production's detector scores 0.7, 0.7, 0.1, 0.3 (roadwork, roadwork, clear, escalate);
    the variant `coco` says 0.7, 0.1, 0.1, 0.3, plus an event production never saw; the variant `other`
    repeats production on event 0 (the same event_id as `coco`'s row). Images 0 and 1 are labelled
    roadwork, 2 clear. The fast tier answered roadwork (0.9) on events 0-3; the shadow tier `qwen`
    answered clear (0.8) on 0 and 1, roadwork on 2, and failed on 3."""
    prod = []
    for i, (score, decision) in enumerate(
        [(0.7, "roadwork"), (0.7, "roadwork"), (0.1, "clear"), (0.3, "escalate")]
    ):
        d = detection_result(i)
        prod.append(
            d.model_copy(
                update={
                    "roadwork_score": score,
                    "decision": decision,
                    "image_sha256": SHA[i],
                    "inference_ms": 50.0,
                }
            )
        )
    ids = [d.event_id for d in prod]
    shadow = [
        d.model_copy(
            update={"variant": "coco", "inference_ms": 40.0 + i, "roadwork_score": s, "decision": dec}
        )
        for i, (d, s, dec) in enumerate(
            zip(prod, [0.7, 0.1, 0.1, 0.3], ["roadwork", "clear", "clear", "escalate"], strict=True)
        )
    ]
    unseen = detection_result(9).model_copy(update={"variant": "coco"})
    twin = prod[0].model_copy(update={"variant": "other"})
    assert commit(tables["detections"], "detections", prod) == 4
    assert commit(tables["shadow_detections"], "shadow_detections", [*shadow, unseen, twin]) == 6
    verdicts = [verdict(i, event_id=e) for i, e in enumerate(ids)]
    assert commit(tables["verdicts"], "verdicts", verdicts) == 4
    answers = [opinion(False, 0.8, 300.0), opinion(False, 0.8, 310.0), opinion(True, 0.6, 320.0)]
    answers.append(opinion(False, 0.0, 5.0, outcome="failed"))
    shadow_opinions = [
        ShadowOpinion(
            event_id=e,
            source_id="cam-1",
            captured_at=T0 + timedelta(seconds=i),
            variant="qwen",
            image_sha256=SHA[i],
            opinion=o,
            opined_at=T0 + timedelta(seconds=i, milliseconds=700),
        )
        for i, (e, o) in enumerate(zip(ids, answers, strict=True))
    ]
    assert commit(tables["shadow_opinions"], "shadow_opinions", shadow_opinions) == 4
    labels = [
        Label(
            event_id=ids[i],
            source_id="cam-1",
            captured_at=T0,
            label_id=f"l{i}",
            image_sha256=SHA[i],
            roadwork=truth,
            origin="dataset",
            labelled_by="test",
            labelled_at=T0,
        )
        for i, truth in enumerate([True, True, False])
    ]
    commit(tables["labels"], "labels", labels)
    return ids


def query(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["query", "models", *args, "--json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return rows


def test_a_detector_variant_against_production(filled: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = query(capsys, "--variant", "coco")
    assert (row["variant"], row["stage"], row["events"]) == ("coco", "detector", 4)  # not the unseen event
    assert row["agreement"] == 0.75  # event 1: roadwork against clear
    assert row["production_score_mean"] == 0.45 and row["variant_score_mean"] == 0.3
    assert row["production_score_p50"] == 0.5 and row["variant_score_p50"] == 0.2
    assert row["production_latency_p50_ms"] == 50.0 and row["variant_latency_p50_ms"] == 41.5
    # labelled 0, 1 (roadwork), 2 (clear); production right on all three, the variant misses event 1
    assert row["labelled"] == 3
    assert (row["production_accuracy"], row["production_mcc"]) == (1.0, 1.0)
    assert row["variant_accuracy"] == round(2 / 3, 4) and row["variant_mcc"] == 0.5


def test_a_tier_variant_against_the_tiers_first_opinions(
    filled: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = query(capsys, "--variant", "qwen")
    assert (row["stage"], row["events"]) == ("fast", 4)
    assert row["agreement"] == 0.25  # roadwork on event 2 only; a failed call never agrees with an answer
    assert row["production_score_mean"] == 0.9 and row["variant_score_mean"] == round(
        (0.2 + 0.2 + 0.6) / 3, 4
    )
    assert row["production_latency_p50_ms"] == 120.0 and row["variant_latency_p50_ms"] == 305.0
    # labelled and answered by both: 0, 1, 2; production says roadwork on all, the variant is wrong on all
    assert (row["labelled"], row["production_accuracy"], row["variant_accuracy"]) == (3, round(2 / 3, 4), 0.0)


def test_every_variant_and_two_on_one_event(filled: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rows = query(capsys, "--variant", "*")
    assert [(r["variant"], r["stage"], r["events"]) for r in rows] == [
        ("coco", "detector", 4),
        ("other", "detector", 1),
        ("qwen", "fast", 4),
    ]
    assert rows[1]["agreement"] == 1.0


def test_an_unknown_variant_is_an_error(filled: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "models", "--variant", "nope"]) == 2
    assert "stored: ['coco', 'other', 'qwen']" in capsys.readouterr().err


def test_without_a_variant_models_is_unchanged(filled: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = query(capsys)
    assert (row["model"], row["calls"]) == ("cone+coco", 4)
