"""`roadwatch bench console`: the web console over N verdicts (and their detections) in the tables, served by
uvicorn in its own process and asked over HTTP: p50/p99 of the Decisions data path (a page of 100 verdicts
of one camera, unfiltered, the funnel, the `/decisions` page), the live feed's latency from a verdict's
transaction commit on Kafka to its arrival in an SSE client of `/api/live`, and the serving process's RSS.

The tables are filled the way the sink fills them: the records' JSON as consumer `Message`s, through the
sink's `to_arrow` and `TableWriter.commit`, in batches of `batch_rows` (one Iceberg snapshot each), over
`CAMERAS` cameras and `DAYS` days of `captured_at` (day partitions)."""

from __future__ import annotations

import json
import multiprocessing
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Message
from tqdm import tqdm

from apps.bench.common import percentile, scratch
from roadwatch.analytics.tables import Tables
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.clients import transactional_producer
from roadwatch.settings import KafkaSettings
from schemas import Detection, DetectionResult, ModelRef, TierOpinion, Verdict
from services.sink.convert import to_arrow
from services.sink.writer import TableWriter

CAMERAS = 50
DAYS = 4
T0 = datetime(2026, 11, 28, tzinfo=UTC)
TIERS = (["detector"], ["detector", "fast"], ["detector", "fast", "precision"])


def _templates() -> tuple[dict[str, Any], dict[str, Any]]:
    """A verdict and a detection result as JSON objects, from the real models (fields replaced per row)."""
    op = TierOpinion(
        tier="fast",
        backend="local",
        model="cone+coco",
        prompt_version="local-fast-v1",
        outcome="answered",
        roadwork=True,
        confidence=0.8,
        evidence=["traffic_cone 0.80"],
        latency_ms=150,
    )
    verdict = Verdict(
        event_id="x",
        source_id="cam-0",
        captured_at=T0,
        roadwork=True,
        confidence=0.8,
        decided_by="fast",
        tier_path=["detector", "fast"],
        opinions=[op],
        detector_score=0.3,
        decided_at=T0,
    )
    box = Detection(
        label="traffic_cone", class_id=0, confidence=0.7, x1=0.1, y1=0.2, x2=0.3, y2=0.4, model="cone"
    )
    detection = DetectionResult(
        event_id="x",
        source_id="cam-0",
        captured_at=T0,
        image_uri="file:///bench/frame.jpg",
        image_sha256="a" * 64,
        detections=[box, box],
        roadwork_score=0.7,
        decision="roadwork",
        band_low=0.15,
        band_high=0.45,
        models=[ModelRef(name="cone", version="1", weights_sha256="b" * 64)],
        decode_ms=3.0,
        inference_ms=50.0,
        detected_at=T0,
    )
    return verdict.model_dump(mode="json"), detection.model_dump(mode="json")


def records(n: int) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(key, verdict JSON, detection JSON) of `n` images in capture order, round-robin over the cameras and
    spread evenly over `DAYS` days."""
    verdict, detection = _templates()
    step = timedelta(days=DAYS) / max(1, n)
    for i in range(n):
        source, event_id = f"cam-{i % CAMERAS}", str(uuid.uuid4())
        captured = T0 + i * step
        path = TIERS[i % 3]
        at = {"event_id": event_id, "source_id": source, "captured_at": captured.isoformat()}
        v = verdict | at
        v |= {
            "roadwork": i % 2 == 0,
            "decided_by": path[-1],
            "tier_path": path,
            "opinions": [] if len(path) == 1 else v["opinions"],
            "degraded": i % 97 == 0,
            "degraded_reason": "precision tier unavailable" if i % 97 == 0 else None,
            "decided_at": (captured + timedelta(milliseconds=400 + 37 * (i % 11))).isoformat(),
        }
        d = detection | at | {"detected_at": (captured + timedelta(milliseconds=60)).isoformat()}
        d["decision"] = "escalate" if len(path) > 1 else "roadwork" if i % 2 == 0 else "clear"
        yield source.encode(), json.dumps(v).encode(), json.dumps(d).encode()


def fill(tables: Tables, rows: int, batch_rows: int = 50_000) -> int:
    """Write `rows` verdicts and their detections as the sink does (a commit of `batch_rows` records per
    table at a time, with their offsets); returns the number of commits per table."""
    writers = {
        name: TableWriter(tables.catalog.load_table(f"{tables.namespace}.{name}"), retries=1)
        for name in ("verdicts", "detections")
    }
    batches: dict[str, list[Message]] = {"verdicts": [], "detections": []}
    commits = 0

    def commit() -> None:
        for name, batch in batches.items():
            w, first = writers[name], batch[0].offset()
            converted = to_arrow(name, w.arrow_schema, batch)
            w.commit(converted.table, {(name, 0): first}, {(name, 0): first + len(batch)})
            batch.clear()

    for offset, (key, v, d) in enumerate(tqdm(records(rows), total=rows, desc="filling", unit="rows")):
        batches["verdicts"].append(Message(topic="verdicts", partition=0, offset=offset, key=key, value=v))
        batches["detections"].append(
            Message(topic="detections", partition=0, offset=offset, key=key, value=d)
        )
        if len(batches["verdicts"]) == batch_rows:
            commit()
            commits += 1
    if batches["verdicts"]:
        commit()
        commits += 1
    return commits
