"""`roadwatch bench flink`: events/s through the real Flink job (Kafka in → keyed state → Kafka out,
committed) versus the same transition function in a plain Python loop, in one run.

The job runs as a local mini-cluster in `.venv-flink` (on the cluster profile: submitted to its Flink
session cluster with `flink run -d`, cancelled afterwards; the RSS is then the TaskManager's, which also
runs the production job) with the production default `emit_every=10` (a
SourceState every 10th event of a source, on alerts and on band changes) or, with `--emit-every 1`, one
SourceState per event. Each committed SourceState (read_committed) carries how many events its source has
folded in, so their sum shows every event made it through. Outputs become readable only
when a checkpoint commits their transaction, in steps of the checkpoint interval, so the rate is taken from
when the job wrote them: the span of the committed outputs' record timestamps (`processing_span_s`; the
span in which they became readable is `visible_span_s`). Job start-up is reported on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apps.bench.common import Scratch, scratch
from flink_jobs.records import to_event
from flink_jobs.state_machine import Config, step
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.consume import TopicReader
from roadwatch.kafka.produce import send
from roadwatch.process import GroupProcess
from roadwatch.settings import KafkaSettings, profile
from roadwatch.stack.cluster import flink as cluster_flink
from roadwatch.stack.cluster.settings import ClusterSettings
from schemas import Verdict

ROOT = Path(__file__).resolve().parents[2]


def _payloads(n: int, sources: int = 100) -> list[tuple[str, bytes]]:
    """(key, value) records keyed by source_id, as roadwatch's services write them."""
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
    records = []
    for i in range(n):
        source = f"cam-{i % sources}"
        update = {
            "event_id": str(uuid.uuid4()),
            "source_id": source,
            "roadwork": i % 3 != 0,
            "captured_at": t0 + timedelta(seconds=i),
        }
        records.append((source, base.model_copy(update=update).model_dump_json().encode()))
    return records


def _python_loop(payloads: list[tuple[str, bytes]], emit_every: int) -> float:
    states: dict[str, Any] = {}
    config = Config(emit_every=emit_every)
    started = time.perf_counter()
    for _, p in payloads:
        e = to_event("verdict", p)
        states[e.source_id] = step(states.get(e.source_id), e, config).state
    return len(payloads) / (time.perf_counter() - started)


def _rss_session_mb(sid: int) -> float:
    """Resident memory of every process in session `sid` (the job, its JVM, the JVM's Python workers)."""
    out = subprocess.run(["ps", "-o", "rss=", "-s", str(sid)], capture_output=True, text=True, check=False)
    return sum(int(x) for x in out.stdout.split()) / 1024


def _env(
    kafka: KafkaSettings, s: Scratch, verdicts: str, emit_every: int, checkpoints: str
) -> dict[str, str]:
    """The job's settings: the run's scratch topics (verdicts already written) and group."""
    return {
        **os.environ,
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_FLINK_DETECTIONS_TOPIC": s.topic("flink-detections"),
        "ROADWATCH_FLINK_VERDICTS_TOPIC": verdicts,
        "ROADWATCH_FLINK_STATE_TOPIC": s.topic("flink-state"),
        "ROADWATCH_FLINK_THRESHOLDS_TOPIC": s.topic("flink-bands"),
        "ROADWATCH_FLINK_GROUP_ID": s.group("flink"),
        "ROADWATCH_FLINK_EMIT_EVERY": str(emit_every),
        "ROADWATCH_FLINK_CHECKPOINT_MS": "1000",
        "ROADWATCH_FLINK_METRICS_PORT": "0",  # beside a running stack, whose job holds the default port
        "ROADWATCH_FLINK_CHECKPOINT_DIR": checkpoints,
    }


class _Job(Protocol):
    def alive(self) -> bool: ...
    def rss_mb(self) -> float: ...
    def stop(self) -> None: ...


class _LocalJob:
    """The job in a local mini-cluster: one process group of `.venv-flink`'s Python and its JVM."""

    def __init__(self, env: dict[str, str]) -> None:
        python = ROOT / ".venv-flink" / "bin" / "python"
        self.proc = GroupProcess([str(python), "-m", "flink_jobs.confidence_state"], ROOT, env).start()

    def alive(self) -> bool:
        return self.proc.alive()

    def rss_mb(self) -> float:
        return _rss_session_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.stop(60)  # the whole group: its JVM must not write checkpoints into a removed directory


class _ClusterJob:
    """The job submitted to the cluster profile's Flink session cluster, cancelled on `stop`."""

    def __init__(self, env: dict[str, str], checkpoints: str) -> None:
        self.s = ClusterSettings()
        self.job_id = cluster_flink.submit(self.s, env, Path(checkpoints))

    def alive(self) -> bool:
        states = {j.id: j.state for j in cluster_flink.jobs(self.s)}
        return states.get(self.job_id) not in ("FAILED", "CANCELED", "FINISHED")

    def rss_mb(self) -> float:
        pid = cluster_flink.taskmanager(self.s).running_pid()
        return _rss_session_mb(pid) if pid is not None else 0.0

    def stop(self) -> None:
        cluster_flink.cancel(self.s, self.job_id)
        deadline = time.monotonic() + 60
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.5)


def run(
    kafka: KafkaSettings, events: int = 200_000, emit_every: int = 10, timeout_s: float = 600
) -> dict[str, Any]:
    on_cluster = profile() == "cluster"
    payloads = _payloads(events)
    with scratch(kafka) as s, tempfile.TemporaryDirectory(prefix="roadwatch-bench-flink-") as checkpoints:
        verdicts = s.topic("flink-verdicts")
        producer = idempotent_producer(kafka)
        for key, p in payloads:
            send(producer, verdicts, key.encode(), p)
        producer.flush(60)
        loop_eps = _python_loop(payloads, emit_every)
        env = _env(kafka, s, verdicts, emit_every, checkpoints)
        folded: dict[str, int] = {}  # per source: the most events a committed SourceState reports
        outputs, first, peak = 0, 0.0, 0.0
        stamps: list[int] = []  # when the job wrote each committed output (record CreateTime, ms)
        with TopicReader(kafka, env["ROADWATCH_FLINK_STATE_TOPIC"]) as reader:
            launched = time.perf_counter()
            job: _Job = _ClusterJob(env, checkpoints) if on_cluster else _LocalJob(env)
            try:
                deadline = time.monotonic() + timeout_s
                while sum(folded.values()) < events and time.monotonic() < deadline and job.alive():
                    got = reader.read(timeout_s=0.5, idle_s=0.5)  # what arrives in half a second
                    if got and not first:
                        first = time.perf_counter()
                    for m in got:
                        record = json.loads(m.value() or b"{}")
                        folded[record["source_id"]] = max(
                            folded.get(record["source_id"], 0), record["events"]
                        )
                        stamps.append(m.timestamp()[1])
                    outputs += len(got)
                    peak = max(peak, job.rss_mb())
                last = time.perf_counter()
            finally:
                job.stop()
    through = sum(folded.values())
    span_s = (max(stamps) - min(stamps)) / 1000 if len(stamps) > 1 else 0.0
    flink_eps = through / span_s if span_s > 0 else 0.0
    return {
        "bench": "flink",
        "flink": "session cluster" if on_cluster else "mini-cluster",
        "events": events,
        "events_through": through,
        "emit_every": emit_every,
        "outputs": outputs,
        "events_per_s": round(flink_eps),
        "processing_span_s": round(span_s, 2),
        "visible_span_s": round(last - first, 2) if first else None,
        "python_loop_events_per_s": round(loop_eps),
        "ratio": round(flink_eps / loop_eps, 3),
        "startup_s": round(first - launched, 1) if first else None,
        "peak_rss_mb": round(peak),
    }
