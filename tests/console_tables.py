"""Tables for the console's tests, filled through the sink's own writer (a real SQLite catalog): verdicts
and detections of three cameras with markup in free-text fields, an image on disk for one event, a dead
letter whose original holds a script. Fixtures `filled` and `client` (a TestClient without Kafka)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Message
from fastapi.testclient import TestClient

from apps.console.app import create_app
from apps.console.settings import ConsoleSettings
from roadwatch.analytics.tables import Tables
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from schemas import DeadLetter, DetectionResult, Verdict
from schemas.records import Record
from services.sink.convert import to_arrow
from services.sink.writer import TableWriter
from tests.factories import dead_letter_record, detection_result, source_state, verdict

XSS = "<script>alert(1)</script>"
HOSTILE = "<b>x</b>"  # in free-text fields (a box's label, a degraded reason): shown as text, never markup


@dataclass
class Filled:
    tables: Tables
    verdicts: list[Verdict]
    detections: list[DetectionResult]
    image_event: str  # has a real image file inside `images`
    images: Path


def write(tables: Tables, name: str, recs: list[Record]) -> None:
    w = TableWriter(tables.catalog.load_table(f"{tables.namespace}.{name}"), retries=1)
    batch = [
        Message(
            topic=name, partition=0, offset=i, key=r.source_id.encode(), value=r.model_dump_json().encode()
        )
        for i, r in enumerate(recs)
    ]
    w.commit(to_arrow(name, w.arrow_schema, batch).table, {(name, 0): 0}, {(name, 0): len(recs)})


def fill(tmp_path: Path, shared_dir: Path) -> Filled:
    """Create the tables under `tmp_path/warehouse` and fill them."""
    settings = CatalogSettings(warehouse=str(tmp_path / "warehouse"))
    ensure_tables(open_catalog(settings), settings.namespace)
    tables = Tables.open(settings)
    images = tmp_path / "images"
    images.mkdir()
    frame = sorted((shared_dir / "datasets" / "vtti-workzone").iterdir())[0]
    (images / "frame.jpg").write_bytes(frame.read_bytes())
    verdicts = [verdict(i, source=f"cam-{i % 3}") for i in range(9)]
    verdicts[1] = verdicts[1].model_copy(update={"degraded": True, "degraded_reason": HOSTILE})
    detections = [
        detection_result(i, source=v.source_id, event_id=v.event_id) for i, v in enumerate(verdicts)
    ]
    box = detections[0].detections[0].model_copy(update={"label": HOSTILE})
    detections[0] = detections[0].model_copy(
        update={
            "detections": [box],
            "image_uri": (images / "frame.jpg").as_uri(),
            "image_sha256": hashlib.sha256(frame.read_bytes()).hexdigest(),
        }
    )
    letter: DeadLetter = dead_letter_record(0).model_copy(
        update={"original_value_b64": base64.b64encode(XSS.encode()).decode(), "reason": "undecodable"}
    )
    write(tables, "verdicts", list(verdicts))
    write(tables, "detections", list(detections))
    write(tables, "source_state", [source_state(i, source="cam-0") for i in range(3)])
    write(tables, "dead_letters", [letter])
    return Filled(tables, verdicts, detections, verdicts[0].event_id, images)


@pytest.fixture
def filled(tmp_path: Path, shared_dir: Path) -> Filled:
    return fill(tmp_path, shared_dir)


@pytest.fixture
def client(filled: Filled) -> Callable[..., TestClient]:
    def make(**settings: object) -> TestClient:
        given = {"allowed_file_roots": [filled.images], "live": False, **settings}
        s = ConsoleSettings(**given)  # type: ignore[arg-type]
        return TestClient(create_app(s, filled.tables, None))

    return make
