"""The two processes `roadwatch bench sink --peer kafka-connect` compares, each measured from outside the same
way (CPU seconds from /proc/<pid>/stat, peak RSS from VmHWM, "consuming" once its consumer group holds every
partition): roadwatch's sink as `python -m services.sink` (its own process, so that neither the bench's
producer nor its table poller count as its CPU or memory), with the maintainer beside it in steady mode, and
a Kafka Connect standalone worker running Iceberg's sink connector."""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient

from roadwatch.errors import StackError
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.admin import admin_client, partition_ids
from roadwatch.ports import free_port
from roadwatch.process import GroupProcess
from roadwatch.settings import ROOT, KafkaSettings
from roadwatch.stack import connect, jars

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAINTAINER = ROOT / "services" / "maintainer" / "service.py"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14 and 15


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of process `pid` so far (VmHWM), in MiB; 0.0 where /proc does not say."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def holds_every_partition(admin: AdminClient, group_id: str, topic: str, partitions: int) -> bool:
    """Whether `group_id` is a stable group whose members hold all `partitions` of `topic`."""
    futures = admin.describe_consumer_groups([group_id], request_timeout=5)
    try:
        group = futures[group_id].result()
    except KafkaException:  # the group does not exist yet: not consuming
        return False
    if group.state != ConsumerGroupState.STABLE:
        return False
    held = {
        tp.partition
        for m in group.members
        if m.assignment is not None
        for tp in m.assignment.topic_partitions
        if tp.topic == topic
    }
    return len(held) == partitions


class Side(Protocol):
    """One sink process of a round."""

    name: str
    group_id: str

    def start(self) -> None: ...
    def pids(self) -> list[int]: ...
    def check(self) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Usage:
    """What a side's processes used so far: CPU seconds, and the sum of their peak RSS (an upper bound of
    their peak together; one process in backlog mode)."""

    cpu_s: float
    peak_rss_mb: float

    @staticmethod
    def of(side: Side) -> Usage:
        pids = side.pids()
        return Usage(sum(cpu_seconds(p) for p in pids), sum(peak_rss_mb(p) for p in pids))


def wait_consuming(side: Side, kafka: KafkaSettings, topic: str, timeout_s: float = 180.0) -> None:
    """Until the side's group holds every partition of `topic` (polled every 50 ms).

    Raises:
        StackError: its process exited, or `timeout_s` passed.
    """
    conf = kafka.client_config()
    admin, partitions = admin_client(conf), len(partition_ids(conf, topic))
    deadline = time.monotonic() + timeout_s
    while not holds_every_partition(admin, side.group_id, topic, partitions):
        side.check()
        if time.monotonic() > deadline:
            raise StackError(f"bench sink: {side.name} held no partitions after {timeout_s:.0f} s")
        time.sleep(0.05)


def catalog_env(catalog: CatalogSettings) -> dict[str, str]:
    """`ROADWATCH_CATALOG_*` for a child process on `catalog`."""
    env = {
        "ROADWATCH_CATALOG_TYPE": catalog.type,
        "ROADWATCH_CATALOG_NAME": catalog.name,
        "ROADWATCH_CATALOG_WAREHOUSE": catalog.warehouse,
        "ROADWATCH_CATALOG_NAMESPACE": catalog.namespace,
        "ROADWATCH_CATALOG_S3_REGION": catalog.s3_region,
    }
    optional = {
        "ROADWATCH_CATALOG_URI": catalog.uri,
        "ROADWATCH_CATALOG_S3_ENDPOINT": catalog.s3_endpoint,
        "ROADWATCH_CATALOG_S3_ACCESS_KEY_ID": catalog.s3_access_key_id,
        "ROADWATCH_CATALOG_S3_SECRET_ACCESS_KEY": (
            catalog.s3_secret_access_key.get_secret_value() if catalog.s3_secret_access_key else None
        ),
    }
    return env | {k: v for k, v in optional.items() if v is not None}


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    env = {
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        env["ROADWATCH_KAFKA_SASL_MECHANISM"] = kafka.sasl_mechanism
    if kafka.sasl_username is not None:
        env["ROADWATCH_KAFKA_SASL_USERNAME"] = kafka.sasl_username
    if kafka.sasl_password is not None:
        env["ROADWATCH_KAFKA_SASL_PASSWORD"] = kafka.sasl_password.get_secret_value()
    return env


def sink_env(topic: str, group_id: str, freshness_ms: int | None) -> dict[str, str]:
    """`ROADWATCH_SINK_*` of a sink reading `topic` as its verdicts and nothing else (its other inputs are
    topics nobody writes), leaving its group on close, metrics on a free port."""
    none = f"{topic}.none"
    env = {
        "ROADWATCH_SINK_VERDICTS_TOPIC": topic,
        "ROADWATCH_SINK_DETECTIONS_TOPIC": f"{none}-d",
        "ROADWATCH_SINK_SOURCE_STATE_TOPIC": f"{none}-s",
        "ROADWATCH_SINK_LABELS_TOPIC": f"{none}-l",
        "ROADWATCH_SINK_SHADOW_DETECTIONS_TOPIC": f"{none}-sd",
        "ROADWATCH_SINK_SHADOW_OPINIONS_TOPIC": f"{none}-so",
        "ROADWATCH_SINK_DLQ_PATTERN": rf"^{re.escape(none)}\.dlq$",
        "ROADWATCH_SINK_GROUP_ID": group_id,
        "ROADWATCH_SINK_STATIC_MEMBER": "false",
        "ROADWATCH_SINK_METRICS_PORT": "0",
    }
    if freshness_ms is not None:
        env["ROADWATCH_SINK_FRESHNESS_MS"] = str(freshness_ms)
    return env


def maintainer_available() -> bool:
    """Whether `services.maintainer` exists in this checkout (it compacts and expires beside the sink)."""
    return MAINTAINER.exists()


def maintainer_process(catalog: CatalogSettings, log: Path, **settings: str) -> GroupProcess:
    """`python -m services.maintainer` tending the verdicts table of `catalog`'s namespace; `settings` are
    `ROADWATCH_MAINTAINER_*` overrides (lower-case field names)."""
    env = {
        **os.environ,
        **catalog_env(catalog),
        "ROADWATCH_MAINTAINER_TABLES": '["verdicts"]',
        "ROADWATCH_MAINTAINER_METRICS_PORT": "0",
        **{f"ROADWATCH_MAINTAINER_{k.upper()}": v for k, v in settings.items()},
    }
    return GroupProcess([sys.executable, "-m", "services.maintainer"], ROOT, env, log)


class OurSink:
    """roadwatch's sink as its own process, and in steady mode the maintainer beside it."""

    name = "roadwatch"

    def __init__(
        self,
        kafka: KafkaSettings,
        catalog: CatalogSettings,
        topic: str,
        group_id: str,
        home: Path,
        freshness_ms: int | None = None,
        maintain: bool = False,
    ) -> None:
        self.group_id = group_id
        env = {
            **os.environ,
            **kafka_env(kafka),
            **catalog_env(catalog),
            **sink_env(topic, group_id, freshness_ms),
        }
        self.sink = GroupProcess([sys.executable, "-m", "services.sink"], ROOT, env, home / "sink.log")
        self.maintainer = maintainer_process(catalog, home / "maintainer.log") if maintain else None

    def start(self) -> None:
        self.sink.start()
        if self.maintainer is not None:
            self.maintainer.start()

    def pids(self) -> list[int]:
        return [p.pid for p in (self.sink, self.maintainer) if p is not None]

    def check(self) -> None:
        for p in (self.sink, self.maintainer):
            if p is not None and not p.alive():
                raise StackError(f"bench sink: {p.argv[-1]} exited ({p.returncode}); see {p.log}")

    def stop(self) -> None:
        for p in (self.sink, self.maintainer):
            if p is not None:
                p.stop(30)


@dataclass(frozen=True)
class PeerSettings:
    """The Iceberg sink connector's settings the bench runs it with (see `connect.Worker`/`IcebergSink`)."""

    commit_interval_ms: int = 1000
    commit_timeout_ms: int = 30_000
    offset_flush_interval_ms: int = 500
    tasks: int = 1
    max_poll_records: int = 500  # Connect's consumer default
    heap: str = "2g"  # connect-standalone.sh's default heap

    def describe(self) -> dict[str, Any]:
        return {
            "iceberg.control.commit.interval-ms": self.commit_interval_ms,
            "iceberg.control.commit.timeout-ms": self.commit_timeout_ms,
            "offset.flush.interval.ms": self.offset_flush_interval_ms,
            "tasks.max": self.tasks,
            "consumer.max.poll.records": self.max_poll_records,
            "heap": self.heap,
        }


class PeerSink:
    """Kafka Connect (standalone) with Iceberg's sink connector into `table` (created beforehand)."""

    name = "kafka-connect"

    def __init__(
        self,
        kafka: KafkaSettings,
        catalog: CatalogSettings,
        topic: str,
        control_topic: str,
        home: Path,
        cache_dir: Path,
        settings: PeerSettings,
        connector_name: str,
    ) -> None:
        self.cache_dir = cache_dir
        worker = connect.worker_for(
            kafka,
            home,
            free_port(),
            jars.iceberg_connect_plugin(cache_dir),
            offset_flush_interval_ms=settings.offset_flush_interval_ms,
            consumer={"max.poll.records": str(settings.max_poll_records)},
        )
        sink = connect.IcebergSink(
            name=connector_name,
            topic=topic,
            table=f"{catalog.namespace}.verdicts",
            control_topic=control_topic,
            catalog=connect.catalog_properties(catalog),
            commit_interval_ms=settings.commit_interval_ms,
            commit_timeout_ms=settings.commit_timeout_ms,
            tasks=settings.tasks,
        )
        self.group_id = sink.group_id
        self.worker = connect.ConnectWorker(home, worker, sink, settings.heap)

    def start(self) -> None:
        self.worker.start(jars.connect_classpath(self.cache_dir))
        self.worker.wait_running()

    def pids(self) -> list[int]:
        return [self.worker.pid]

    def check(self) -> None:
        _ = self.worker.pid

    def stop(self) -> None:
        self.worker.stop()
