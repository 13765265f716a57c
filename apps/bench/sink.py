"""`roadwatch bench sink`: committed rows/s through the sink (Kafka → Iceberg) versus bare pyiceberg appends
of the same Arrow batches (the ones the sink committed), in one run, each into its own fresh SQLite catalog
and warehouse; where the configured catalog is a REST catalog (the cluster profile: REST + S3), each into a
fresh namespace of it, purged afterwards."""

from __future__ import annotations

import logging
import os
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from apps.bench.common import bench_verdict, percentile, scratch
from roadwatch.errors import StackError
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.offsets import Offsets
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.admin import partition_ids
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.produce import send
from roadwatch.serving import Health
from roadwatch.settings import KafkaSettings
from services.sink.service import build
from services.sink.settings import SinkSettings

log = logging.getLogger(__name__)


def _verdicts(n: int) -> list[tuple[bytes, bytes]]:
    """(key, value) records keyed by source_id, as the services write them (another key is a dead letter)."""
    t0 = datetime(2026, 11, 27, tzinfo=UTC)
    template = bench_verdict(t0)
    records = []
    for i in range(n):
        source = f"cam-{i % 50}"
        update = {
            "event_id": str(uuid.uuid4()),
            "source_id": source,
            "captured_at": t0 + timedelta(seconds=i),
        }
        records.append((source.encode(), template.model_copy(update=update).model_dump_json().encode()))
    return records


def verdicts_only(topic: str, **overrides: Any) -> SinkSettings:
    """Settings of a sink that reads `topic` as its verdicts and nothing else: its other inputs are topics
    nobody writes, so what lies on the stack's own topics stays out."""
    return SinkSettings(
        verdicts_topic=topic,
        detections_topic=f"{topic}.none-d",
        source_state_topic=f"{topic}.none-s",
        dlq_pattern=rf"^{re.escape(topic)}\.none\.dlq$",
        **overrides,
    )


ROUND_TIMEOUT_S = 600.0


class Timing(NamedTuple):
    wall_s: float
    cpu_s: float  # this process, all its threads (librdkafka's and Arrow's included)


class _Assigned(Health):
    """Records when the sink got its partitions (the clock starts there, not at process start-up)."""

    at = 0.0
    cpu_at = 0.0

    def set_ready(self, ready: bool = True) -> None:
        if ready and not self.at:
            self.at, self.cpu_at = time.perf_counter(), time.process_time()
        super().set_ready(ready)


@contextmanager
def round_catalog(configured: CatalogSettings, tmp: str, name: str) -> Iterator[CatalogSettings]:
    """A fresh catalog for one side of one round: SQLite under `tmp`, or a new namespace of the configured
    REST catalog (its tables purged and the namespace dropped on exit)."""
    if configured.type != "rest":
        yield CatalogSettings(warehouse=str(Path(tmp) / name))
        return
    fresh = configured.model_copy(update={"namespace": f"bench_{name}_{uuid.uuid4().hex[:8]}"})
    try:
        yield fresh
    finally:
        catalog = open_catalog(fresh)
        for identifier in catalog.list_tables(fresh.namespace):
            catalog.purge_table(identifier)
        catalog.drop_namespace(fresh.namespace)


def _files(catalog: CatalogSettings) -> int:
    table = open_catalog(catalog).load_table(f"{catalog.namespace}.verdicts")
    return len(table.inspect.files())


def _bare_round(batches: list[pa.Table], catalog: CatalogSettings) -> Timing:
    """Time to append `batches` (the sink's own, as it committed them) to a fresh table."""
    table = ensure_tables(open_catalog(catalog), catalog.namespace)["verdicts"]
    started, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        table.append(batch)
    return Timing(time.perf_counter() - started, time.process_time() - cpu)


def _sink_round(
    kafka: KafkaSettings,
    topic: str,
    group_id: str,
    rows: int,
    catalog: CatalogSettings,
    flush_rows: int,
    latencies: list[float],
    committed: list[pa.Table],
) -> Timing:
    """Time from the sink's assignment until the table's offsets cover all `rows` (fresh catalog; the sink
    in group `group_id`); `committed` gets the Arrow batches it committed."""
    partitions = partition_ids(kafka.client_config(), topic)
    settings = verdicts_only(
        topic,
        flush_rows=flush_rows,
        freshness_ms=250,
        max_poll_records=10_000,
        group_id=group_id,
        metrics_port=0,
        static_member=False,  # it leaves its group on close: the bench deletes the group at once
    )
    sink = build(settings, catalog, kafka)
    writer = sink.writers["verdicts"]
    original_commit = writer.commit

    def timed_commit(rows: pa.Table, start: Offsets, end: Offsets) -> float:
        elapsed = original_commit(rows, start, end)
        latencies.append(elapsed * 1000)
        committed.append(rows)
        return elapsed

    writer.commit = timed_commit  # type: ignore[method-assign]
    assigned = _Assigned("bench-sink")
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    try:
        sink.subscribe(assigned)  # the sink's own loop, driven here until every offset is committed
        while sum(writer.committed.get((topic, p), 0) for p in partitions) < rows:
            if time.monotonic() > deadline:
                raise StackError(f"bench sink: not every row committed after {ROUND_TIMEOUT_S:.0f}s")
            sink.step()
        return Timing(  # from the group assignment, not process start-up
            time.perf_counter() - assigned.at, time.process_time() - assigned.cpu_at
        )
    finally:
        sink.close()


def run(
    kafka: KafkaSettings,
    rows: int = 200_000,
    flush_rows: int = 50_000,
    rounds: int = 3,
    catalog: CatalogSettings | None = None,
) -> dict[str, Any]:
    """`rounds` times: the sink, then bare appends of the batches it committed, each into a fresh catalog;
    report medians. `ratio_ceiling` is the ratio the sink would reach with every core busy all the time
    (bare seconds / (sink CPU seconds / cores)): how far overlap alone could take it."""
    bare: list[Timing] = []
    sink: list[Timing] = []
    latencies: list[float] = []
    files = 0
    configured = catalog or CatalogSettings()
    with scratch(kafka) as s:
        topic = s.topic("sink-verdicts")
        producer = idempotent_producer(kafka)
        for key, value in _verdicts(rows):
            send(producer, topic, key, value)
        producer.flush(60)
        for r in range(rounds):
            with (
                tempfile.TemporaryDirectory() as tmp,
                round_catalog(configured, tmp, f"sink{r}") as sink_cat,
                round_catalog(configured, tmp, f"bare{r}") as bare_cat,
            ):
                batches: list[pa.Table] = []
                sink.append(
                    _sink_round(kafka, topic, s.group("sink"), rows, sink_cat, flush_rows, latencies, batches)
                )
                files = _files(sink_cat)
                bare.append(_bare_round(batches, bare_cat))
                log.info(
                    "round %d/%d: sink %.2f s (%.2f s CPU), bare %.2f s (%.2f s CPU)",
                    r + 1,
                    rounds,
                    *sink[-1],
                    *bare[-1],
                )
    sink_s, bare_s = (statistics.median(t.wall_s for t in sink), statistics.median(t.wall_s for t in bare))
    sink_cpu, bare_cpu = (statistics.median(t.cpu_s for t in sink), statistics.median(t.cpu_s for t in bare))
    sink_rps, bare_rps = rows / sink_s, rows / bare_s
    return {
        "bench": "sink",
        "catalog": configured.type,
        "rows": rows,
        "rounds": rounds,
        "flush_rows": flush_rows,
        "rows_per_s": round(sink_rps),
        "bare_rows_per_s": round(bare_rps),
        "ratio": round(sink_rps / bare_rps, 3),
        "sink_cpu_s": round(sink_cpu, 2),
        "bare_cpu_s": round(bare_cpu, 2),
        "ratio_ceiling": round(bare_s / (sink_cpu / (os.cpu_count() or 1)), 3),
        "commits": len(latencies),
        "rows_per_commit": round(rows * rounds / max(1, len(latencies))),
        "p99_commit_ms": round(percentile(latencies, 99), 1),
        "files_per_100k_rows": round(files * 100_000 / rows, 2),
    }
