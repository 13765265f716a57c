"""The hostile corpus on one stack (real broker, the detector and the sink as processes, real Iceberg): every
bad record or file becomes exactly one dead letter with its reason, no service stops for it, and a good
image produced after all of them still gets its verdict. Every input is built here, none is stored."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import zlib
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from PIL import Image
from pyiceberg.exceptions import NoSuchTableError

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq
from roadwatch.producer.api import produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import ImageEvent, Thresholds
from schemas.records import utcnow
from tests.helpers import wait_for, warehouse_catalog
from tests.integration.test_detector import detector_env
from tests.integration.test_sink import sink_env
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def ztxt_bomb() -> bytes:
    """A 16x16 PNG whose compressed-text chunk inflates to 50 MB."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 60, 0)).save(buf, "PNG")
    png = buf.getvalue()
    text = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * 50_000_000, 9))
    at = png.index(b"IDAT") - 4
    return png[:at] + text + png[at:]


def event(source: str, *, data: bytes = b"x", uri: str | None = None, inline: bool = False) -> bytes:
    """An ImageEvent as a producer writes it, pointing anywhere (the detector decides what it fetches)."""
    return (
        ImageEvent(
            event_id=f"ev-{hashlib.sha256(data + (uri or '').encode()).hexdigest()[:12]}",
            source_id=source,
            captured_at=utcnow(),
            image_uri=uri,
            image_b64=base64.b64encode(data).decode() if inline else None,
            image_sha256=hashlib.sha256(data).hexdigest(),
            content_type="image/png",
            width=16,
            height=16,
            size_bytes=max(1, len(data)),
            produced_at=utcnow(),
        )
        .model_dump_json()
        .encode()
    )


def band(key_source: str, low: float, high: float) -> bytes:
    now = utcnow()
    return (
        Thresholds(
            event_id=f"b-{key_source}",
            source_id=key_source,
            captured_at=now,
            low=low,
            high=high,
            evidence=9,
            updated_at=now,
        )
        .model_dump_json()
        .encode()
    )


def _scan(warehouse: Path, name: str) -> pa.Table | None:
    """A table the sink wrote, or None before it exists."""
    catalog = warehouse_catalog(warehouse)
    if catalog is None:
        return None
    try:
        return catalog.load_table(f"roadwatch.{name}").scan().to_arrow()
    except NoSuchTableError:
        return None


def test_hostile_corpus_dead_letters_once_each_and_the_stack_stays_up(
    kafka: KafkaSettings, topic_factory, producer_factory, shared_dir: Path, tmp_path: Path
) -> None:
    topics = {
        n: topic_factory(n) for n in ("images", "detections", "verdicts", "escalations", "source_state")
    }
    topics["thresholds"] = topic_factory("thresholds", config={"cleanup.policy": "compact"})
    dlqs = [dlq(topics[n]) for n in ("images", "thresholds", "verdicts")]
    ensure_topics(kafka.client_config(), [TopicSpec(t, 3) for t in dlqs])
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    fifo = allowed / "stuck.jpg"
    os.mkfifo(fifo)
    (allowed / "real.png").write_bytes(ztxt_bomb())
    secret = tmp_path / "outside" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(b"never read")
    os.utime(secret, (86_400, secret.stat().st_mtime))  # relatime: any read now moves the access time

    images = {  # (key, value) -> the reason its dead letter must carry
        "decompression_bomb": (b"cam-h", event("cam-h", data=ztxt_bomb(), inline=True)),
        "undecodable": (b"cam-h", b"[" * 100_000 + b"]" * 100_000),
        "schema_invalid": (
            b"cam-h",
            b'{"event_id": "big-1", "source_id": "cam-h", "x": "' + b"a" * 5_000_000 + b'"}',
        ),
        "uri_not_allowed": (b"cam-h", event("cam-h", uri="file:///dev/zero")),
        "not_a_file": (b"cam-h", event("cam-h", uri=fifo.as_uri())),
        "key_mismatch": (b"cam-mal", event("cam-victim", data=b"k", inline=True)),
    }
    outside = {  # more ways to name a file outside the roots: refused before any open
        "etc": event("cam-h", uri="file:///etc/passwd"),
        "host": event("cam-h", uri=f"file://otherhost{allowed}/real.png"),
        "secret": event("cam-h", uri=secret.as_uri()),
    }
    thresholds = {
        "bad_key": (b"\xff\xfe\xfd", None),  # a tombstone whose key names no source
        "key_mismatch": (b"adv-victim", band("adv-mal", 0.0, 0.0)),  # would steer another camera
    }
    verdicts = {"undecodable": [(b"cam-h", b"{" * 100_000), (b"cam-h", None)]}  # nesting, a tombstone

    producer = producer_factory(**{"message.max.bytes": 10_000_000})
    for key, value in images.values():
        producer.produce(topics["images"], key=key, value=value)
    for value in outside.values():
        producer.produce(topics["images"], key=b"cam-h", value=value)
    for key, value in thresholds.values():
        producer.produce(topics["thresholds"], key=key, value=value)
    for key, value in verdicts["undecodable"]:
        producer.produce(topics["verdicts"], key=key, value=value)
    producer.flush(30)

    warehouse = tmp_path / "warehouse"
    pattern = "^(" + "|".join(t.replace(".", r"\.") for t in dlqs) + ")$"
    det = ServiceProcess(
        "services.detector", detector_env(kafka, topics, shared_dir, allowed), tmp_path / "det.log"
    ).start()
    sink = ServiceProcess(
        "services.sink", sink_env(kafka, topics, warehouse, pattern), tmp_path / "sink.log"
    ).start()
    try:
        frames = shared_dir / "datasets" / "vtti-workzone"
        good = produce(
            [str(sorted(frames.iterdir())[0])],
            "cam-good",
            kafka=kafka,
            settings=ProducerSettings(topic=topics["images"]),
        )
        assert good.sent == 1
        duplicate = event("cam-dup", data=sorted(frames.iterdir())[0].read_bytes(), inline=True)
        for _ in range(2):  # the same event twice (a client's retry): every table holds it once
            producer.produce(topics["images"], key=b"cam-dup", value=duplicate)
        producer.flush(10)
        expected = len(images) + len(outside) + len(thresholds) + len(verdicts["undecodable"])

        def letters() -> list[dict[str, object]]:
            rows = _scan(warehouse, "dead_letters")
            return (
                []
                if rows is None
                else rows.select(["source_topic", "partition", "offset", "reason", "truncated"]).to_pylist()
            )

        def verdict_of_good() -> bool:
            rows = _scan(warehouse, "verdicts")
            return rows is not None and {"cam-good", "cam-dup"} <= set(rows.column("source_id").to_pylist())

        wait_for(lambda: len(letters()) >= expected and verdict_of_good(), 240, f"{expected} dead letters")
        assert det.alive() and sink.alive(), "a service stopped for a record's sake"
    finally:
        det.stop()
        sink.stop()

    for name in ("detections", "verdicts"):
        table = _scan(warehouse, name)
        assert table is not None
        assert table.column("source_id").to_pylist().count("cam-dup") == 1, (
            f"a repeated event_id twice in {name}"
        )
    rows = letters()
    per_record = Counter((r["source_topic"], r["partition"], r["offset"]) for r in rows)
    assert max(per_record.values()) == 1, "a bad record was dead-lettered twice"
    by_topic: dict[str, Counter[str]] = {}
    for r in rows:
        by_topic.setdefault(str(r["source_topic"]), Counter())[str(r["reason"])] += 1
    assert by_topic[topics["images"]] == Counter(
        {**{k: 1 for k in images}, "uri_not_allowed": 1 + len(outside)}
    )
    assert by_topic[topics["thresholds"]] == Counter(dict.fromkeys(thresholds, 1))
    assert by_topic[topics["verdicts"]] == Counter({"undecodable": 2})
    assert [r["truncated"] for r in rows if r["reason"] == "schema_invalid"] == [True]  # cut to fit its topic
    assert secret.stat().st_atime == 86_400, "a file outside the allowed roots was read"
    assert "Traceback" not in (tmp_path / "det.log").read_text()
