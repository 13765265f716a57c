"""`roadwatch bench detector`: the bare model loop versus the full streaming path, same images and model.

Bare: read file → decode → inference, in a plain loop, no Kafka. Streaming: a real detector process (warmed
up first) consumes the images from a fresh topic and commits its outputs in transactions. The bench builds
the round's ImageEvents (what `roadwatch produce` sends) and writes them in one transaction of its own
before the clock starts: `read_committed` hides them from the detector until the commit, so the clock starts
when every image becomes consumable at once (just before that commit) and neither the bench's validating,
hashing nor producing is in the span. It stops when every DetectionResult is readable with
`read_committed`. Each round runs both sides on the same `images` files (the dataset's, repeated in order to
reach that many); rounds alternate the sides, so noise hits both alike; medians, and each figure's spread
over the rounds.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Message, Producer

from apps.bench.common import Scratch, peak_rss_mb, percentile, scratch
from roadwatch.errors import StackError
from roadwatch.images.inspect import ImageLimits, decode_rgb
from roadwatch.kafka.clients import transactional_producer
from roadwatch.kafka.codec import encode
from roadwatch.kafka.consume import TopicReader, read_to_end
from roadwatch.kafka.produce import flush, send
from roadwatch.producer.api import event_for
from roadwatch.producer.inputs import file_uri, local_paths
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from services.detector.service import build_pipeline
from services.detector.settings import DetectorSettings

log = logging.getLogger(__name__)


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


def events(files: list[Path], source_id: str, settings: ProducerSettings) -> list[tuple[bytes, bytes]]:
    """The (key, value) records `roadwatch produce` would send for `files`: each read, validated, hashed
    and described as `produce` does it (fresh event ids), before any clock runs."""
    limits, policy, key = settings.limits(), settings.fetch_policy(), source_id.encode()
    return [(key, encode(event_for(file_uri(p), source_id, settings, limits, policy))) for p in files]


def release(producer: Producer, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """Write `records` to `topic` in one transaction and commit it: `read_committed` consumers see none of
    them before the commit and all of them after. Returns `time.perf_counter()` just before the commit,
    when the records are written and acknowledged (the span of a consumer of them starts there).

    Raises:
        StackError: the records were not acknowledged within 60 s (the transaction is left to time out).
    """
    producer.begin_transaction()
    for key, value in records:
        send(producer, topic, key, value)
    if flush(producer, 60):
        raise StackError(f"bench detector: {topic} did not acknowledge the round's images within 60 s")
    start = time.perf_counter()
    producer.commit_transaction(60)
    return start


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


def _peak_rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stamps(messages: list[Message]) -> dict[bytes, int]:
    """Record timestamps (ms), keyed by value."""
    return {m.value() or b"": m.timestamp()[1] for m in messages}


def _env(kafka: KafkaSettings, models_dir: Path, images: Path, port: int, s: Scratch) -> dict[str, str]:
    """The detector process's settings: the run's scratch topics and group."""
    topics = {n: s.topic(n) for n in ("detections", "verdicts", "escalations")}
    topics["images"] = s.topic("images", with_dlq=True)  # the detector dead-letters to <images>.dlq
    return {
        **os.environ,
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_DETECTOR_MODELS_DIR": str(models_dir),
        "ROADWATCH_DETECTOR_ALLOWED_FILE_ROOTS": json.dumps([str(images)]),
        "ROADWATCH_DETECTOR_METRICS_PORT": str(port),
        "ROADWATCH_DETECTOR_INPUT_TOPIC": topics["images"],
        "ROADWATCH_DETECTOR_DETECTIONS_TOPIC": topics["detections"],
        "ROADWATCH_DETECTOR_VERDICTS_TOPIC": topics["verdicts"],
        "ROADWATCH_DETECTOR_ESCALATION_TOPIC": topics["escalations"],
        "ROADWATCH_DETECTOR_GROUP_ID": s.group("detector"),
    }


def spread(values: list[float], digits: int = 3) -> list[float]:
    """[min, max] of per-round figures, rounded."""
    return [round(min(values), digits), round(max(values), digits)]


def run(
    kafka: KafkaSettings,
    dataset: str,
    models_dir: Path,
    images: int = 500,
    rounds: int = 3,
    port: int = 9181,
) -> dict[str, Any]:
    """Alternate bare loop and streaming path `rounds` times on `images` files of `dataset`; report medians
    and spreads (a round's ratio is its streaming rate over its own bare rate)."""
    found = local_paths([dataset])
    if not found:
        raise ValueError(f"bench detector: no image files under {dataset}")
    files = list(itertools.islice(itertools.cycle(found), images))
    settings = DetectorSettings(models_dir=models_dir)
    producing = ProducerSettings()
    bare_rates, stream_rates, bare_lat = [], [], []
    done: dict[bytes, int] = {}
    with scratch(kafka) as s:
        env = _env(kafka, models_dir, Path(dataset).resolve(), port, s)
        images_topic = env["ROADWATCH_DETECTOR_INPUT_TOPIC"]
        with TopicReader(kafka, env["ROADWATCH_DETECTOR_DETECTIONS_TOPIC"]) as reader:
            proc = subprocess.Popen(
                [sys.executable, "-m", "services.detector"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                producer = transactional_producer(kafka, f"bench-images-{uuid.uuid4().hex[:8]}")
                _wait_ready(port, proc)
                for r in range(rounds):
                    bare_s, lat = _bare(files, settings)
                    bare_rates.append(len(files) / bare_s)
                    bare_lat.extend(lat)
                    round_events = events(files, "bench", producing)
                    start = release(producer, images_topic, round_events)
                    got = _stamps(reader.read(until=len(round_events), timeout_s=600))
                    stream_rates.append(len(got) / (time.perf_counter() - start))
                    done.update(got)
                    log.info(
                        "round %d/%d: bare %.2f img/s, streaming %.2f img/s (ratio %.3f)",
                        r + 1,
                        rounds,
                        bare_rates[-1],
                        stream_rates[-1],
                        stream_rates[-1] / bare_rates[-1],
                    )
                stream_peak = _peak_rss_of(proc.pid)
            finally:  # before the scratch goes: the detector's group must be empty to be deleted
                proc.terminate()
                proc.wait(30)
        latencies = _latencies(_stamps(read_to_end(kafka, images_topic, until=len(done), timeout_s=30)), done)
    bare_ips, stream_ips = statistics.median(bare_rates), statistics.median(stream_rates)
    ratios = [s / b for s, b in zip(stream_rates, bare_rates, strict=True)]
    return {
        "bench": "detector",
        "images": len(files),
        "distinct_images": len(found),
        "rounds": rounds,
        "outputs": len(done),
        "bare_images_per_s": round(bare_ips, 2),
        "bare_images_per_s_spread": spread(bare_rates, 2),
        "stream_images_per_s": round(stream_ips, 2),
        "stream_images_per_s_spread": spread(stream_rates, 2),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_spread": spread(ratios),
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
