"""`roadwatch bench flink`: events/s through the real Flink job (Kafka in → keyed state → Kafka out,
committed) versus a Kafka → Kafka copy job in Flink SQL (`flink_jobs.copy_job`) on the same topic contents,
with the job's own sources, exactly-once sink, parallelism and checkpointing, in one run: rounds that
alternate which of the two goes first; medians. The same transition function in a plain Python loop is
reported beside them, as information.

Each side runs as a local mini-cluster in `.venv-flink` (`python -m <module>`: the client, its JVM and the
JVM's Python workers, one process session) with a fresh consumer group, output topics and checkpoint
directory per round; 1 s checkpoints, as in every earlier measurement. On the cluster profile the real job
is submitted to its Flink session cluster with `flink run -d` and cancelled afterwards (the RSS is then the
TaskManager's, which also runs the production job); the copy baseline is not run there.

The job runs with the production default `emit_every=10` (a SourceState every 10th event of a source, on
alerts and on band changes) or, with `--emit-every 1`, one SourceState per event. Each committed SourceState
(read_committed) carries how many events its source has folded in, so their sum shows every event made it
through; the copy's through-count is its committed records. Outputs become readable only when a checkpoint
commits their transaction, in steps of the checkpoint interval, so each rate is taken from when the side
wrote them (record timestamps). `events_per_s` is the running rate: the events between the outputs that took
the side past 10 % and past 90 % of its events, over the time between them. Over the whole span of its
committed outputs (`whole_span_events_per_s`, `processing_span_s`; the span in which they became readable is
`visible_span_s`) a short run flatters the job: its sources read ahead while its first windows fill, and
those events count at once. 1,000,000 verdicts by default: 200,000 gave ratios from 0.50 to 0.66 in one run
where the running rates of longer runs give 0.38 (bench/RESULTS.md). Start-up is reported on its own: the
first committed output, in seconds after the side's process was started (`first_output_s`). `peak_rss_mb`
is the most resident memory of the side's whole process session seen in 0.5 s samples; `cpu_s` its CPU
time (user + system).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import Message

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
JOB, COPY = "flink_jobs.confidence_state", "flink_jobs.copy_job"


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


def _session(sid: int, column: str) -> list[str]:
    out = subprocess.run(
        ["ps", "-o", f"{column}=", "-s", str(sid)], capture_output=True, text=True, check=False
    )
    return out.stdout.split()


def _rss_session_mb(sid: int) -> float:
    """Resident memory of every process in session `sid` (the job, its JVM, the JVM's Python workers)."""
    return sum(int(x) for x in _session(sid, "rss")) / 1024


def _cpu_session_s(sid: int) -> float:
    """CPU time (user + system) so far of every live process in session `sid`."""
    return float(sum(int(x) for x in _session(sid, "times")))


def _env(
    kafka: KafkaSettings, s: Scratch, verdicts: str, emit_every: int, checkpoints: str
) -> dict[str, str]:
    """A side's settings: the run's verdicts (already written); its own topics, group and checkpoints."""
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
    def cpu_s(self) -> float: ...
    def stop(self) -> None: ...


class _LocalJob:
    """A job in a local mini-cluster: one process session of `.venv-flink`'s Python and its JVM."""

    def __init__(self, module: str, env: dict[str, str]) -> None:
        python = ROOT / ".venv-flink" / "bin" / "python"
        self.proc = GroupProcess([str(python), "-m", module], ROOT, env).start()

    def alive(self) -> bool:
        return self.proc.alive()

    def rss_mb(self) -> float:
        return _rss_session_mb(self.proc.pid)

    def cpu_s(self) -> float:
        return _cpu_session_s(self.proc.pid)

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

    def _pid(self) -> int | None:
        return cluster_flink.taskmanager(self.s).running_pid()

    def rss_mb(self) -> float:
        pid = self._pid()
        return _rss_session_mb(pid) if pid is not None else 0.0

    def cpu_s(self) -> float:
        pid = self._pid()
        return _cpu_session_s(pid) if pid is not None else 0.0

    def stop(self) -> None:
        cluster_flink.cancel(self.s, self.job_id)
        deadline = time.monotonic() + 60
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.5)


@dataclass
class _Outputs:
    """What a side committed: events through (the copy: its records; the job: the most events each
    source's SourceStates report), and for each output when it was written (record CreateTime, ms) and how
    many events it added (a source's outputs are on one partition, read in order)."""

    copy: bool
    outputs: int = 0
    folded: dict[str, int] = field(default_factory=dict)
    progress: list[tuple[int, int]] = field(default_factory=list)

    def add(self, got: list[Message]) -> None:
        self.outputs += len(got)
        for m in got:
            gained = 1
            if not self.copy:
                record = json.loads(m.value() or b"{}")
                source = record["source_id"]
                before = self.folded.get(source, 0)
                gained = max(0, record["events"] - before)
                self.folded[source] = before + gained
            self.progress.append((m.timestamp()[1], gained))

    @property
    def through(self) -> int:
        return self.outputs if self.copy else sum(self.folded.values())


def steady_rate(progress: list[tuple[int, int]], low: float = 0.1, high: float = 0.9) -> float | None:
    """Events/s between the outputs that took the run past `low` and past `high` of its events (by write
    time, ms): the rate once running, without the start (the sources read ahead while the first windows
    fill and the first transaction waits for its checkpoint) or the tail. None without two such outputs
    apart in time."""
    total = sum(gained for _, gained in progress)
    marks: list[tuple[int, int]] = []  # (write time, events done) on passing `low`, then `high`
    done = 0
    for ts, gained in sorted(progress):
        done += gained
        while len(marks) < 2 and done >= (low, high)[len(marks)] * total:
            marks.append((ts, done))
        if len(marks) == 2:
            break
    if not total or len(marks) < 2 or marks[1][0] <= marks[0][0]:
        return None
    (t_low, at_low), (t_high, at_high) = marks
    return (at_high - at_low) / ((t_high - t_low) / 1000)


def _side(
    module: str, kafka: KafkaSettings, env: dict[str, str], events: int, timeout_s: float
) -> dict[str, Any]:
    """Run one side until `events` made it through (or `timeout_s`, or it ended); its figures."""
    out = _Outputs(copy=module == COPY)
    first, peak, cpu = 0.0, 0.0, 0.0
    with TopicReader(kafka, env["ROADWATCH_FLINK_STATE_TOPIC"]) as reader:
        launched = time.perf_counter()
        local = profile() != "cluster"
        job: _Job = (
            _LocalJob(module, env) if local else _ClusterJob(env, env["ROADWATCH_FLINK_CHECKPOINT_DIR"])
        )
        try:
            deadline = time.monotonic() + timeout_s
            while out.through < events and time.monotonic() < deadline and job.alive():
                got = reader.read(timeout_s=0.5, idle_s=0.5)  # what arrives in half a second
                if got and not first:
                    first = time.perf_counter()
                out.add(got)
                peak, cpu = max(peak, job.rss_mb()), job.cpu_s()
            last = time.perf_counter()
        finally:
            job.stop()
    stamps = [ts for ts, _ in out.progress]
    span_s = (max(stamps) - min(stamps)) / 1000 if len(stamps) > 1 else 0.0
    steady = steady_rate(out.progress)
    return {
        "events_through": out.through,
        "outputs": out.outputs,
        # None, not 0, when there is no rate: the medians leave such a round out instead of counting it
        "events_per_s": round(steady) if steady is not None else None,
        "whole_span_events_per_s": round(out.through / span_s) if span_s > 0 else None,
        "processing_span_s": round(span_s, 2),
        "visible_span_s": round(last - first, 2) if first else None,
        "first_output_s": round(first - launched, 1) if first else None,
        "peak_rss_mb": round(peak),
        "cpu_s": round(cpu, 1),
    }


def _median(rounds: list[dict[str, Any]], side: str, key: str) -> float | None:
    values = [r[side][key] for r in rounds if r.get(side) and r[side][key] is not None]
    return statistics.median(values) if values else None


def run(
    kafka: KafkaSettings,
    events: int = 1_000_000,
    emit_every: int = 10,
    rounds: int = 3,
    timeout_s: float = 600,
) -> dict[str, Any]:
    """Alternating rounds of the copy and the job (round r: the copy first when r is even); medians."""
    on_cluster = profile() == "cluster"
    payloads = _payloads(events)
    loop_eps = _python_loop(payloads, emit_every)
    done: list[dict[str, Any]] = []
    with scratch(kafka) as s, tempfile.TemporaryDirectory(prefix="roadwatch-bench-flink-") as work:
        verdicts = s.topic("flink-verdicts")
        producer = idempotent_producer(kafka)
        for key, p in payloads:
            send(producer, verdicts, key.encode(), p)
        producer.flush(60)
        for r in range(rounds):
            order = [JOB] if on_cluster else [COPY, JOB] if r % 2 == 0 else [JOB, COPY]
            figures: dict[str, Any] = {}
            for module in order:
                checkpoints = str(Path(work) / f"{r}-{module}")
                env = _env(kafka, s, verdicts, emit_every, checkpoints)
                figures["copy" if module == COPY else "job"] = _side(module, kafka, env, events, timeout_s)
            done.append(figures)
    job_eps, copy_eps = _median(done, "job", "events_per_s"), _median(done, "copy", "events_per_s")
    return {
        "bench": "flink",
        "flink": "session cluster" if on_cluster else "mini-cluster",
        "events": events,
        "emit_every": emit_every,
        "rounds": rounds,
        "events_per_s": job_eps,
        "copy_events_per_s": copy_eps,
        "ratio": round(job_eps / copy_eps, 3) if job_eps is not None and copy_eps else None,
        "first_output_s": _median(done, "job", "first_output_s"),
        "copy_first_output_s": _median(done, "copy", "first_output_s"),
        "peak_rss_mb": max(f["job"]["peak_rss_mb"] for f in done),
        "copy_peak_rss_mb": max((f["copy"]["peak_rss_mb"] for f in done if "copy" in f), default=None),
        "python_loop_events_per_s": round(loop_eps),
        "per_round": done,
    }
