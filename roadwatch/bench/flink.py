"""`roadwatch bench flink`: events/s through the real Flink job (Kafka in → keyed state → Kafka out,
committed) versus the same transition function in a plain Python loop, in one run.

The job runs as a local mini-cluster in `.venv-flink` with `emit_every=1` (one SourceState per event), so
committed outputs count the events that made it through; the clock starts when the first output is
readable (job start-up is reported on its own) and stops at the last.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from flink_jobs.records import to_event
from flink_jobs.state_machine import Config, step
from roadwatch.bench.common import fresh_topic
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.producer.api import send
from roadwatch.settings import KafkaSettings
from schemas import Verdict

ROOT = Path(__file__).resolve().parents[2]


def _payloads(n: int, sources: int = 100) -> list[bytes]:
    t0 = datetime(2026, 11, 27, tzinfo=UTC)
    base = Verdict(
        event_id="x",
        source_id="s",
        captured_at=t0,
        roadwork=True,
        confidence=0.9,
        decided_by="detector",
        tier_path=["detector"],
        detector_score=0.8,
        decided_at=t0,
    )
    return [
        base.model_copy(
            update={
                "event_id": str(uuid.uuid4()),
                "source_id": f"cam-{i % sources}",
                "roadwork": i % 3 != 0,
                "captured_at": t0 + timedelta(seconds=i),
            }
        )
        .model_dump_json()
        .encode()
        for i in range(n)
    ]


def _python_loop(payloads: list[bytes]) -> float:
    states: dict[str, Any] = {}
    config = Config(emit_every=1)
    started = time.perf_counter()
    for p in payloads:
        e = to_event("verdict", p)
        states[e.source_id] = step(states.get(e.source_id), e, config).state
    return len(payloads) / (time.perf_counter() - started)


def _peak_rss_tree_mb(pid: int) -> float:
    out = subprocess.run(
        ["ps", "-o", "rss=", "--ppid", str(pid), "-p", str(pid)], capture_output=True, text=True
    )
    return sum(int(x) for x in out.stdout.split()) / 1024


def run(kafka: KafkaSettings, events: int = 50_000, timeout_s: float = 600) -> dict[str, Any]:
    python = ROOT / ".venv-flink" / "bin" / "python"
    verdicts, state, thresholds = (
        fresh_topic(kafka, n) for n in ("flink-verdicts", "flink-state", "flink-bands")
    )
    detections = fresh_topic(kafka, "flink-detections")
    payloads = _payloads(events)
    producer = idempotent_producer(kafka)
    for p in payloads:
        send(producer, verdicts, "k", p)
    producer.flush(60)
    loop_eps = _python_loop(payloads)

    env = {
        **os.environ,
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_FLINK_DETECTIONS_TOPIC": detections,
        "ROADWATCH_FLINK_VERDICTS_TOPIC": verdicts,
        "ROADWATCH_FLINK_STATE_TOPIC": state,
        "ROADWATCH_FLINK_THRESHOLDS_TOPIC": thresholds,
        "ROADWATCH_FLINK_GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
        "ROADWATCH_FLINK_EMIT_EVERY": "1",
        "ROADWATCH_FLINK_CHECKPOINT_MS": "1000",
        "ROADWATCH_FLINK_CHECKPOINT_DIR": tempfile.mkdtemp(prefix="roadwatch-bench-flink-"),
    }
    c = Consumer(
        kafka.client_config(**{"group.id": f"b-{uuid.uuid4().hex}", "isolation.level": "read_committed"})
    )
    c.assign([TopicPartition(state, p, OFFSET_BEGINNING) for p in range(3)])
    launched = time.perf_counter()
    job = subprocess.Popen(
        [str(python), "-m", "flink_jobs.confidence_state"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen, first, peak = 0, 0.0, 0.0
    try:
        deadline = time.monotonic() + timeout_s
        while seen < events and time.monotonic() < deadline:
            got = [m for m in c.consume(10_000, 0.5) if m.error() is None]
            if got and not first:
                first = time.perf_counter()
            seen += len(got)
            peak = max(peak, _peak_rss_tree_mb(job.pid))
        last = time.perf_counter()
    finally:
        job.terminate()
        job.wait(60)
        c.close()
    flink_eps = seen / (last - first) if first and last > first else 0.0
    return {
        "bench": "flink",
        "events": events,
        "outputs": seen,
        "events_per_s": round(flink_eps),
        "python_loop_events_per_s": round(loop_eps),
        "ratio": round(flink_eps / loop_eps, 3),
        "startup_s": round(first - launched, 1) if first else None,
        "peak_rss_mb": round(peak),
    }
