"""`roadwatch bench detector`: the bare model loop versus the full streaming path, same images and model.

Bare: read file → decode → inference, in a plain loop, no Kafka. Streaming: the images are produced to a
fresh topic and a real detector process (warmed up first) consumes them and commits its outputs in
transactions; the clock stops when every DetectionResult is readable with `read_committed`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from apps.bench.common import fresh_topic, peak_rss_mb, percentile
from roadwatch.images.inspect import ImageLimits, decode_rgb
from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq
from roadwatch.producer.api import produce
from roadwatch.producer.inputs import local_paths
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from services.detector.service import build_pipeline
from services.detector.settings import DetectorSettings


def _bare(files: list[Path], settings: DetectorSettings) -> tuple[float, list[float]]:
    pipeline = build_pipeline(settings)
    pipeline.warm_up(2)
    latencies = []
    start = time.perf_counter()
    for path in files:
        t0 = time.perf_counter()
        pipeline.detect(decode_rgb(path.read_bytes(), ImageLimits()))
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    pipeline.close()
    return elapsed, latencies


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"detector exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("detector did not become ready")


def _reader(kafka: KafkaSettings, topic: str) -> Consumer:
    """A read_committed consumer assigned to every partition of `topic` from the start (no group join)."""
    conf = {
        "group.id": f"bench-{uuid.uuid4().hex}",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
    }
    c = Consumer(kafka.client_config(**conf))
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    return c


def _collect(c: Consumer, expected: int, timeout_s: float) -> dict[bytes, int]:
    """Record timestamps (ms) of what `c` reads, keyed by value, until `expected` records arrived."""
    seen: dict[bytes, int] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < expected and time.monotonic() < deadline:
        msg = c.poll(0.2)
        if msg is not None and not msg.error():
            seen[msg.value() or b""] = msg.timestamp()[1]
    return seen


def _peak_rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(
    kafka: KafkaSettings, dataset: str, models_dir: Path, rounds: int = 2, port: int = 9181
) -> dict[str, Any]:
    """Alternate bare loop and streaming path `rounds` times (noise hits both alike); report medians."""
    files = local_paths([dataset])
    settings = DetectorSettings(models_dir=models_dir)
    topics = {n: fresh_topic(kafka, n) for n in ("images", "detections", "verdicts", "escalations")}
    ensure_topics(kafka.client_config(), [TopicSpec(dlq(topics["images"]), 3)])
    env = {
        **os.environ,
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_DETECTOR_MODELS_DIR": str(models_dir),
        "ROADWATCH_DETECTOR_METRICS_PORT": str(port),
        "ROADWATCH_DETECTOR_INPUT_TOPIC": topics["images"],
        "ROADWATCH_DETECTOR_DETECTIONS_TOPIC": topics["detections"],
        "ROADWATCH_DETECTOR_VERDICTS_TOPIC": topics["verdicts"],
        "ROADWATCH_DETECTOR_ESCALATION_TOPIC": topics["escalations"],
        "ROADWATCH_DETECTOR_GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
    }
    reader = _reader(kafka, topics["detections"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.detector"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare_rates, stream_rates, bare_lat = [], [], []
    done: dict[bytes, int] = {}
    try:
        _wait_ready(port, proc)
        for _ in range(rounds):
            bare_s, lat = _bare(files, settings)
            bare_rates.append(len(files) / bare_s)
            bare_lat.extend(lat)
            start = time.perf_counter()
            report = produce(
                [str(f) for f in files],
                "bench",
                kafka=kafka,
                settings=ProducerSettings(topic=topics["images"]),
            )
            got = _collect(reader, report.sent, timeout_s=600)
            stream_rates.append(len(got) / (time.perf_counter() - start))
            done.update(got)
        stream_peak = _peak_rss_of(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        reader.close()
    images_reader = _reader(kafka, topics["images"])
    latencies = _latencies(_collect(images_reader, len(done), timeout_s=30), done)
    images_reader.close()
    bare_ips, stream_ips = statistics.median(bare_rates), statistics.median(stream_rates)
    return {
        "bench": "detector",
        "images": len(files),
        "rounds": rounds,
        "outputs": len(done),
        "bare_images_per_s": round(bare_ips, 2),
        "stream_images_per_s": round(stream_ips, 2),
        "ratio": round(stream_ips / bare_ips, 3),
        "bare_p50_ms": round(percentile(bare_lat, 50), 1),
        "bare_p99_ms": round(percentile(bare_lat, 99), 1),
        "stream_p50_ms": round(percentile(latencies, 50), 1),
        "stream_p99_ms": round(percentile(latencies, 99), 1),
        "bare_peak_rss_mb": round(peak_rss_mb(), 1),
        "detector_peak_rss_mb": round(stream_peak, 1),
    }


def _latencies(produced: dict[bytes, int], done: dict[bytes, int]) -> list[float]:
    """Per image: detection commit timestamp minus the image record's timestamp, matched by event_id."""
    import json

    sent = {json.loads(v)["event_id"]: ts for v, ts in produced.items()}
    return [
        float(ts - sent[json.loads(v)["event_id"]])
        for v, ts in done.items()
        if json.loads(v)["event_id"] in sent
    ]
