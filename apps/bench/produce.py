"""`roadwatch bench produce`: roadwatch's producer versus a bare confluent-kafka loop on the same images.

The baseline is the minimal producer a user would write by hand: read each file, hash it, send a JSON event
with confluent-kafka (same acks/idempotence/compression/linger). roadwatch adds content validation (format,
pixel limit, truncation), the typed schema and the report. Both send to fresh topics on the same broker.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apps.bench.common import scratch
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.produce import send
from roadwatch.producer.api import produce
from roadwatch.producer.inputs import local_paths
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings


def _bare(kafka: KafkaSettings, topic: str, files: list[Path], source: str) -> float:
    producer = idempotent_producer(kafka)
    start = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        event = {
            "event_id": hashlib.md5(path.name.encode()).hexdigest(),
            "source_id": source,
            "captured_at": datetime.now(UTC).isoformat(),
            "image_uri": path.as_uri(),
            "image_sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data),
        }
        send(producer, topic, source.encode(), json.dumps(event).encode())
    producer.flush(60)
    return time.perf_counter() - start


def run(kafka: KafkaSettings, dataset: str, events: int, rounds_of_each: int = 3) -> dict[str, Any]:
    """Send `events` images (the dataset repeated) through both producers, alternating, `rounds_of_each`
    times; returns the medians and their ratio."""
    paths = local_paths([dataset])
    if not paths:
        raise ValueError(f"no images under {dataset}")
    rounds = -(-events // len(paths))
    files = (paths * rounds)[:events]
    bare_rates, rw_rates, failed = [], [], 0
    with scratch(kafka) as s:
        bare_topic, rw_topic = s.topic("produce-bare"), s.topic("produce-rw")
        settings = ProducerSettings(topic=rw_topic)
        for _ in range(rounds_of_each):  # alternate so that machine noise hits both sides alike
            bare_rates.append(events / _bare(kafka, bare_topic, files, "bench"))
            start = time.perf_counter()
            report = produce([str(p) for p in files], "bench", kafka=kafka, settings=settings)
            rw_rates.append(report.sent / (time.perf_counter() - start))
            failed += len(report.failures)
    bare_eps, rw_eps = statistics.median(bare_rates), statistics.median(rw_rates)
    return {
        "bench": "produce",
        "events": events,
        "rounds": rounds_of_each,
        "failed": failed,
        "bare_events_per_s": round(bare_eps, 1),
        "events_per_s": round(rw_eps, 1),
        "ratio": round(rw_eps / bare_eps, 3),
    }
