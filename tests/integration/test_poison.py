"""Poison input through the real detector and sink: every bad record lands in `dead_letters` with its reason,
topic, partition and offset; the good records are unaffected."""

import base64
import hashlib
import io
import json
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq
from roadwatch.producer.api import produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import ImageEvent
from schemas.records import utcnow
from tests.helpers import wait_for
from tests.integration.test_detector import detector_env
from tests.integration.test_sink import counts, sink_env
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration


def _event(data: bytes, **kw: object) -> bytes:
    base = dict(
        event_id=str(uuid.uuid4()),
        source_id="cam-poison",
        captured_at=utcnow(),
        image_sha256=hashlib.sha256(data).hexdigest(),
        content_type="image/jpeg",
        width=10,
        height=10,
        size_bytes=max(1, len(data)),
        produced_at=utcnow(),
    )
    return ImageEvent.model_validate(base | kw).model_dump_json().encode()


def test_poison_mix_lands_in_dead_letters_and_good_records_flow(
    kafka: KafkaSettings, topic_factory, producer_factory, shared_dir: Path, tmp_path: Path
) -> None:
    topics = {n: topic_factory(n) for n in ("images", "detections", "verdicts", "escalations", "state")}
    topics["thresholds"] = topic_factory("thresholds", config={"cleanup.policy": "compact"})
    topics["dlq"] = dlq(topics["images"])
    ensure_topics(kafka.client_config(), [TopicSpec(topics["dlq"], 3)])
    good = produce(
        [str(shared_dir / "datasets" / "vtti-workzone")],
        "cam-good",
        kafka=kafka,
        settings=ProducerSettings(topic=topics["images"]),
    )
    text = tmp_path / "text.jpg"
    text.write_bytes(b"not an image")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), np.uint8)).save(buf, "JPEG")
    truncated = buf.getvalue()[:2000]
    huge = io.BytesIO()
    Image.fromarray(np.zeros((3000, 3000, 3), np.uint8)).save(huge, "JPEG")
    poison = {
        "undecodable": b"{definitely not json",
        "schema_invalid": json.dumps({"event_id": "x", "source_id": "cam-poison"}).encode(),
        "uri_not_allowed": _event(b"x", image_uri="https://evil.example/cam.jpg"),
        "unreachable": _event(b"x", image_uri=(tmp_path / "missing.jpg").as_uri()),
        "not_an_image": _event(text.read_bytes(), image_uri=text.as_uri()),
        "truncated": _event(truncated, image_b64=base64.b64encode(truncated).decode()),
        "too_many_pixels": _event(huge.getvalue(), image_b64=base64.b64encode(huge.getvalue()).decode()),
    }
    producer = producer_factory()
    for value in poison.values():
        producer.produce(topics["images"], key=b"cam-poison", value=value)
    producer.flush(10)

    env = detector_env(kafka, topics, shared_dir, tmp_path) | {"ROADWATCH_DETECTOR_MAX_PIXELS": "4000000"}
    warehouse = tmp_path / "warehouse"
    sink = sink_env(
        kafka,
        {"verdicts": topics["verdicts"], "detections": topics["detections"], "source_state": topics["state"]},
        warehouse,
        "^" + re.escape(topics["dlq"]) + "$",
    )
    procs = [
        ServiceProcess("services.detector", env, tmp_path / "det.log").start(),
        ServiceProcess("services.sink", sink, tmp_path / "sink.log").start(),
    ]
    try:
        wait_for(
            lambda: (
                len(counts(warehouse).get("dead_letters", {})) >= len(poison)
                and len(counts(warehouse).get("detections", {})) >= 32
            ),
            180,
            "dead letters and detections in Iceberg",
        )
    finally:
        for p in procs:
            p.stop()

    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog(
        "roadwatch", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}"
    )
    letters = catalog.load_table("roadwatch.dead_letters").scan().to_arrow().to_pylist()
    assert sorted(r["reason"] for r in letters) == sorted(poison)
    assert all(
        r["service"] == "detector" and r["source_topic"] == topics["images"] and r["offset"] >= 0
        for r in letters
    )
    originals = {base64.b64decode(r["original_value_b64"]) for r in letters}
    assert originals == set(poison.values())
    assert set(counts(warehouse)["detections"]) == set(good.event_ids)
