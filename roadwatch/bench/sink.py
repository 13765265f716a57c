"""`roadwatch bench sink`: committed rows/s through the sink (Kafka → Iceberg) versus bare pyiceberg appends
of the same Arrow batches, in one run, each into its own fresh SQLite catalog and warehouse."""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from roadwatch.bench.common import fresh_topic, percentile
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.deadletter import RawRecord
from roadwatch.kafka.txloop import raw
from roadwatch.observability import Health
from roadwatch.producer.api import send
from roadwatch.settings import KafkaSettings
from schemas import TierOpinion, Verdict
from services.sink.catalog import ensure_tables, open_catalog
from services.sink.convert import to_arrow
from services.sink.service import build
from services.sink.settings import CatalogSettings, SinkSettings


def _verdicts(n: int) -> list[bytes]:
    t0 = datetime(2026, 11, 27, tzinfo=UTC)
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
    template = Verdict(
        event_id="x",
        source_id="cam-0",
        captured_at=t0,
        roadwork=True,
        confidence=0.8,
        decided_by="fast",
        tier_path=["detector", "fast"],
        opinions=[op],
        detector_score=0.3,
        decided_at=t0,
    )
    return [
        template.model_copy(
            update={
                "event_id": str(uuid.uuid4()),
                "source_id": f"cam-{i % 50}",
                "captured_at": t0 + timedelta(seconds=i),
            }
        )
        .model_dump_json()
        .encode()
        for i in range(n)
    ]


def _read_back(kafka: KafkaSettings, topic: str, n: int) -> list[RawRecord]:
    c = Consumer(
        kafka.client_config(**{"group.id": f"bench-{uuid.uuid4().hex}", "enable.auto.commit": False})
    )
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out: list[RawRecord] = []
    while len(out) < n:
        out.extend(raw(m) for m in c.consume(10_000, 1.0) if m.error() is None)
    c.close()
    return out


class _Assigned(Health):
    """Records when the sink got its partitions (the clock starts there, not at process start-up)."""

    at = 0.0

    def set_ready(self, ready: bool = True) -> None:
        if ready and not self.at:
            self.at = time.perf_counter()
        super().set_ready(ready)


def _files(catalog: CatalogSettings) -> int:
    table = open_catalog(catalog).load_table(f"{catalog.namespace}.verdicts")
    return len(table.inspect.files())


def run(kafka: KafkaSettings, rows: int = 200_000, flush_rows: int = 50_000) -> dict[str, Any]:
    topic = fresh_topic(kafka, "sink-verdicts")
    producer = idempotent_producer(kafka)
    for value in _verdicts(rows):
        send(producer, topic, "cam", value)
    producer.flush(60)

    with tempfile.TemporaryDirectory() as tmp:
        sink_cat = CatalogSettings(warehouse=str(Path(tmp) / "sink"))
        bare_cat = CatalogSettings(warehouse=str(Path(tmp) / "bare"))
        # bare: the same Arrow batches, prepared untimed, appended one after the other
        records = _read_back(kafka, topic, rows)
        bare_table = ensure_tables(open_catalog(bare_cat), bare_cat.namespace)["verdicts"]
        schema = bare_table.schema().as_arrow()
        batches = [
            to_arrow("verdicts", schema, records[i : i + flush_rows]).table
            for i in range(0, rows, flush_rows)
        ]
        started = time.perf_counter()
        for batch in batches:
            bare_table.append(batch)
        bare_s = time.perf_counter() - started

        settings = SinkSettings(
            verdicts_topic=topic,
            dlq_pattern=f"^{uuid.uuid4().hex}$",
            flush_rows=flush_rows,
            flush_interval_ms=250,
            max_poll_records=20_000,
            group_id=f"bench-{uuid.uuid4().hex}",
            metrics_port=0,
        )
        sink = build(settings, sink_cat, kafka)
        writer = sink.writers["verdicts"]
        latencies: list[float] = []
        original_commit = writer.commit

        def timed_commit(*args: Any, **kwargs: Any) -> float:
            elapsed = original_commit(*args, **kwargs)
            latencies.append(elapsed * 1000)
            return elapsed

        writer.commit = timed_commit  # type: ignore[method-assign]
        stop, assigned = threading.Event(), _Assigned("bench-sink")
        thread = threading.Thread(target=sink.run, args=(stop, assigned))
        thread.start()
        while sum(writer.committed.get((topic, p), 0) for p in range(3)) < rows:
            time.sleep(0.02)
        sink_s = time.perf_counter() - assigned.at  # from the group assignment, not process start-up
        stop.set()
        thread.join(30)
        files = _files(sink_cat)
    sink_rps, bare_rps = rows / sink_s, rows / bare_s
    return {
        "bench": "sink",
        "rows": rows,
        "flush_rows": flush_rows,
        "rows_per_s": round(sink_rps),
        "bare_rows_per_s": round(bare_rps),
        "ratio": round(sink_rps / bare_rps, 3),
        "commits": len(latencies),
        "p99_commit_ms": round(percentile(latencies, 99), 1),
        "files_per_100k_rows": round(files * 100_000 / rows, 2),
    }
