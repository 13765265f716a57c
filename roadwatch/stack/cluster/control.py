"""`roadwatch --profile cluster stack up|down|status`: the cluster's processes as one unit, with readiness
waits, topics replicated across the nodes, and the confidence-state job submitted to Flink."""

from __future__ import annotations

import logging
import operator
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from roadwatch.errors import StackError
from roadwatch.kafka import admin
from roadwatch.kafka.topics import all_topics
from roadwatch.stack.cluster import catalog, flink, kraft, objectstore, prometheus
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.daemon import Daemon, stop_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Component:
    name: str
    address: str
    pid: int | None
    healthy: bool
    log: str


@dataclass(frozen=True)
class ClusterStatus:
    components: list[Component]
    brokers: list[int] = field(default_factory=list)
    partitions: list[admin.PartitionReplicas] = field(default_factory=list)
    flink_jobs: list[flink.FlinkJob] = field(default_factory=list)
    lags: list[admin.GroupLag] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return bool(self.components) and all(c.healthy for c in self.components)


def kafka_conf(s: ClusterSettings) -> dict[str, str]:
    return {"bootstrap.servers": s.bootstrap, "client.id": "roadwatch-stack"}


def _answers(url: str, ok: Callable[[httpx.Response], bool]) -> bool:
    try:
        return ok(httpx.get(url, timeout=2.0))
    except httpx.HTTPError:
        return False


def _s3_healthy(s: ClusterSettings) -> bool:
    # an unsigned request is refused (403): the server answers and checks signatures
    return _answers(s.s3_endpoint, lambda r: r.status_code == 403)


def _rest_healthy(s: ClusterSettings) -> bool:
    return _answers(f"{s.rest_uri}/v1/config", lambda r: r.status_code == 200)


def _prometheus_healthy(s: ClusterSettings) -> bool:
    return _answers(f"http://{s.host}:{s.prometheus_port}/-/ready", lambda r: r.status_code == 200)


def _wait(what: str, check: Callable[[], bool], deadline: float) -> None:
    while not check():
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not become ready in time; see the logs under the cluster's home")
        time.sleep(0.5)


def _brokers_answer(s: ClusterSettings) -> bool:
    """Whether any node runs and the cluster answers a metadata request within a few seconds."""
    if not any(kraft.node(s, n).running_pid() for n in kraft.node_ids(s)):
        return False
    try:
        admin.wait_until_ready(kafka_conf(s), timeout_s=5.0)
    except StackError:
        return False
    return True


def _brokers_up(s: ClusterSettings) -> bool:
    return _brokers_answer(s) and len(admin.brokers(kafka_conf(s))) == len(s.kafka_ports)


def up(s: ClusterSettings, client_env: dict[str, str]) -> ClusterStatus:
    """Start every component that does not run, wait until each answers, create the replicated topics and
    submit the confidence-state job (with `client_env`, the profile's settings) unless one runs."""
    deadline = time.monotonic() + s.start_timeout_s
    kraft.start(s)
    objectstore.start(s)
    catalog.start(s)
    flink.start(s)
    if s.prometheus:
        prometheus.start(s)
    admin.wait_until_ready(kafka_conf(s), timeout_s=max(1.0, deadline - time.monotonic()))
    _wait(f"all {len(s.kafka_ports)} Kafka nodes", lambda: _brokers_up(s), deadline)
    specs = all_topics(s.partitions, s.retention_ms, replication=s.replication, min_insync=s.min_insync)
    created = admin.ensure_topics(kafka_conf(s), specs)
    _wait("the S3 server", lambda: _s3_healthy(s), deadline)
    _wait("the Iceberg REST catalog", lambda: _rest_healthy(s), deadline)
    _wait("the Flink session cluster", lambda: bool((flink.overview(s) or {}).get("taskmanagers")), deadline)
    if flink.running_job(s) is None:
        flink.submit(s, client_env)
    _wait(
        "the confidence-state job", lambda: getattr(flink.running_job(s), "state", "") == "RUNNING", deadline
    )
    if s.prometheus:
        _wait("Prometheus", lambda: _prometheus_healthy(s), deadline)
    log.info(
        "cluster up: Kafka %s (%d topics created), catalog %s, Flink %s",
        s.bootstrap,
        len(created),
        s.rest_uri,
        s.flink_rest,
    )
    return status(s)


def _daemons(s: ClusterSettings) -> list[Daemon]:
    """Every process of the cluster, in the order `down` stops them."""
    tms = [Daemon(p.stem, s.home) for p in sorted(s.home.glob("flink-taskmanager-*.pid"))]
    return [
        *tms,
        flink.jobmanager(s),
        prometheus.daemon(s),
        catalog.daemon(s),
        objectstore.daemon(s),
        *(kraft.node(s, n) for n in kraft.node_ids(s)),
    ]


def running(s: ClusterSettings) -> bool:
    return any(d.running_pid() is not None for d in _daemons(s))


def down(s: ClusterSettings, *, wipe: bool = False) -> bool:
    """Cancel the job (its checkpoints stay), stop every process; with `wipe`, delete the cluster's home
    (data, checkpoints, credentials). True if anything was running."""
    job = flink.running_job(s)
    if job is not None:
        flink.cancel(s, job.id)
    daemons = _daemons(s)
    was = stop_all(daemons[: -len(kraft.node_ids(s))])  # what writes to Kafka goes first
    was = stop_all(daemons[-len(kraft.node_ids(s)) :]) or was
    if wipe and s.home.exists():
        shutil.rmtree(s.home)
    return was


def _component(name: str, address: str, d: Daemon, answers: Callable[[], bool], log_path: Path) -> Component:
    """A component is healthy when its own process runs and it answers (another process on its port
    does not count)."""
    pid = d.running_pid()
    return Component(name, address, pid, pid is not None and answers(), str(log_path))


def status(s: ClusterSettings) -> ClusterStatus:
    """Each component's pid, address and health; brokers, replicas and ISR per partition; Flink's jobs;
    consumer-group lag."""
    brokers_now = admin.brokers(kafka_conf(s)) if _brokers_answer(s) else []
    comps = [
        _component(
            f"kafka-{n}",
            f"{s.host}:{s.kafka_ports[n - 1]}",
            kraft.node(s, n),
            partial(operator.contains, brokers_now, n),
            kraft.node(s, n).log_file,
        )
        for n in kraft.node_ids(s)
    ]
    overview = flink.overview(s) or {}
    tms = [Daemon(p.stem, s.home) for p in sorted(s.home.glob("flink-taskmanager-*.pid"))]
    live_tms = sum(d.running_pid() is not None for d in tms)
    comps += [
        _component(
            "s3proxy",
            s.s3_endpoint,
            objectstore.daemon(s),
            lambda: _s3_healthy(s),
            objectstore.daemon(s).log_file,
        ),
        _component(
            "iceberg-rest",
            s.rest_uri,
            catalog.daemon(s),
            lambda: _rest_healthy(s),
            catalog.daemon(s).log_file,
        ),
        _component(
            "flink-jobmanager", s.flink_rest, flink.jobmanager(s), lambda: bool(overview), flink.log_dir(s)
        ),
        *(
            _component(
                d.name, s.host, d, lambda: int(overview.get("taskmanagers", 0)) >= live_tms, flink.log_dir(s)
            )
            for d in tms
        ),
    ]
    if s.prometheus:
        comps.append(
            _component(
                "prometheus",
                f"http://{s.host}:{s.prometheus_port}",
                prometheus.daemon(s),
                lambda: _prometheus_healthy(s),
                prometheus.daemon(s).out_file,
            )
        )
    if not brokers_now:
        return ClusterStatus(comps, flink_jobs=flink.jobs(s))
    lags = admin.describe(kafka_conf(s))[1]
    return ClusterStatus(comps, brokers_now, admin.replicas(kafka_conf(s)), flink.jobs(s), lags)
