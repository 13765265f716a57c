"""A Kafka Connect standalone worker running Apache Iceberg's sink connector, the peer `roadwatch bench sink
--peer kafka-connect` measures roadwatch's sink against. The property files are built by pure functions; the
worker is a `Daemon` (its REST API on a loopback port says when the connector and its tasks run).

The connector writes into a table created beforehand with roadwatch's schema (never its own auto-created one:
every column optional, timestamps as strings). JSON values arrive schemaless; Connect's `InsertField`
transform adds the Kafka coordinates (`kafka_topic`, `kafka_partition`, `kafka_offset`) roadwatch's tables
carry, so both sinks fill the same columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from roadwatch.errors import StackError
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.settings import KafkaSettings
from roadwatch.stack.daemon import Daemon, java, log4j2_config

MAIN = "org.apache.kafka.connect.cli.ConnectStandalone"
CONNECTOR_CLASS = "org.apache.iceberg.connect.IcebergSinkConnector"
INSERT_FIELD = "org.apache.kafka.connect.transforms.InsertField$Value"


@dataclass(frozen=True)
class Worker:
    """A standalone worker's settings (`worker.properties`)."""

    bootstrap_servers: str
    rest_port: int
    offsets_file: Path
    plugin_path: Path
    # how often the worker flushes offsets: its idle put() calls carry the connector's commit requests, so a
    # short interval makes commits prompt (the stock 60 s delays them)
    offset_flush_interval_ms: int = 500
    security_protocol: str = "PLAINTEXT"
    consumer: dict[str, str] = field(default_factory=dict)  # `consumer.*` overrides of the sink's consumer


@dataclass(frozen=True)
class IcebergSink:
    """One Iceberg sink connector (`connector.properties`) writing `topic` into the existing `table`."""

    name: str
    topic: str
    table: str  # namespace.table
    control_topic: str  # create it first: auto-creation is off on roadwatch's brokers
    catalog: dict[str, str]  # Iceberg catalog properties (`iceberg.catalog.*` without the prefix)
    commit_interval_ms: int = 1000
    commit_timeout_ms: int = 30_000  # the connector's default
    tasks: int = 1

    @property
    def control_group_prefix(self) -> str:
        """The prefix of its control-topic consumers' group ids (each takes a random suffix)."""
        return f"cg-control-{self.name}-"

    @property
    def group_id(self) -> str:
        """The consumer group of its tasks (Connect's `connect-<name>`)."""
        return f"connect-{self.name}"


def _lines(props: dict[str, str]) -> str:
    for key, value in props.items():
        if "\n" in value or "\r" in value:
            raise StackError(f"Connect property {key} cannot hold a line break")
    return "".join(f"{key}={value}\n" for key, value in props.items())


def worker_properties(w: Worker) -> str:
    """The worker's properties: schemaless JSON values, keys as raw bytes (the connector ignores them)."""
    props = {
        "bootstrap.servers": w.bootstrap_servers,
        "security.protocol": w.security_protocol,
        "listeners": f"http://127.0.0.1:{w.rest_port}",
        "offset.storage.file.filename": str(w.offsets_file),
        "offset.flush.interval.ms": str(w.offset_flush_interval_ms),
        "plugin.path": str(w.plugin_path),
        "plugin.discovery": "service_load",  # no scan of every jar: 8 s less start-up
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }
    props.update({f"consumer.{k}": v for k, v in w.consumer.items()})
    return _lines(props)


def connector_properties(c: IcebergSink) -> str:
    """The connector's properties: the given table only (no auto-creation, no schema evolution)."""
    props = {
        "name": c.name,
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": str(c.tasks),
        "topics": c.topic,
        "iceberg.tables": c.table,
        "iceberg.tables.auto-create-enabled": "false",
        "iceberg.tables.evolve-schema-enabled": "false",
        "iceberg.control.topic": c.control_topic,
        "iceberg.control.group-id-prefix": c.control_group_prefix,
        "iceberg.control.commit.interval-ms": str(c.commit_interval_ms),
        "iceberg.control.commit.timeout-ms": str(c.commit_timeout_ms),
        "transforms": "kafka",
        "transforms.kafka.type": INSERT_FIELD,
        "transforms.kafka.topic.field": "kafka_topic",
        "transforms.kafka.partition.field": "kafka_partition",
        "transforms.kafka.offset.field": "kafka_offset",
    }
    props.update({f"iceberg.catalog.{k}": v for k, v in c.catalog.items()})
    return _lines(props)


def catalog_properties(settings: CatalogSettings) -> dict[str, str]:
    """The Java REST catalog client's properties for roadwatch's REST catalog settings: its S3 endpoint and
    keys too (the REST server does not hand them to clients).

    Raises:
        StackError: the settings are not a REST catalog's (the connector cannot open a SQLite SqlCatalog).
    """
    if settings.type != "rest":
        raise StackError(f"the Iceberg sink connector needs a REST catalog, not {settings.type!r}")
    props = settings.properties()
    out = {"type": "rest", "uri": str(props["uri"]), "warehouse": str(props["warehouse"])}
    if settings.s3_endpoint:
        out |= {
            "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
            "s3.endpoint": settings.s3_endpoint,
            "s3.path-style-access": "true",
            "client.region": settings.s3_region,
        }
    if settings.s3_access_key_id:
        out["s3.access-key-id"] = settings.s3_access_key_id
    if settings.s3_secret_access_key:
        out["s3.secret-access-key"] = settings.s3_secret_access_key.get_secret_value()
    return out


def worker_for(
    kafka: KafkaSettings,
    home: Path,
    rest_port: int,
    plugin_path: Path,
    offset_flush_interval_ms: int = 500,
    consumer: dict[str, str] | None = None,
) -> Worker:
    """A worker on `kafka` keeping its offsets under `home`.

    Raises:
        StackError: `kafka` logs in with SASL (the bench's worker passes no logins on).
    """
    if kafka.sasl_mechanism:
        raise StackError("the bench's Connect worker does not pass SASL logins on; use a PLAINTEXT listener")
    return Worker(
        bootstrap_servers=kafka.bootstrap_servers,
        rest_port=rest_port,
        offsets_file=home / "connect.offsets",
        plugin_path=plugin_path,
        offset_flush_interval_ms=offset_flush_interval_ms,
        security_protocol=kafka.security_protocol,
        consumer=dict(consumer or {}),
    )


class ConnectWorker:
    """A standalone worker with one connector, as a Daemon under `home` (`connect.pid`, `connect.log`)."""

    def __init__(self, home: Path, worker: Worker, sink: IcebergSink, heap: str = "2g") -> None:
        self.home, self.worker, self.sink, self.heap = home, worker, sink, heap
        self.daemon = Daemon("connect", home)

    def start(self, libs: Path) -> int:
        """Write the property files and start the JVM (`libs`: the worker's classpath folder)."""
        self.home.mkdir(parents=True, exist_ok=True)
        worker, connector = self.home / "worker.properties", self.home / "connector.properties"
        worker.write_text(worker_properties(self.worker))
        connector.write_text(connector_properties(self.sink))
        log4j = self.home / "connect-log4j2.properties"
        log4j.write_text(log4j2_config(self.daemon.log_file))
        return self.daemon.start(
            [
                java(),
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                f"{libs}/*",
                MAIN,
                str(worker),
                str(connector),
            ]
        )

    @property
    def pid(self) -> int:
        pid = self.daemon.running_pid()
        if pid is None:
            raise StackError(f"the Connect worker is not running: {self.daemon.last_words()}")
        return pid

    def wait_running(self, timeout_s: float = 120.0) -> None:
        """Until the connector and every task report RUNNING on the worker's REST API.

        Raises:
            StackError: the worker exited, a task failed (its trace's first line), or `timeout_s` passed.
        """
        url = f"http://127.0.0.1:{self.worker.rest_port}/connectors/{self.sink.name}/status"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _ = self.pid  # raises once the JVM is gone
            try:
                status = httpx.get(url, timeout=2).json()
            except (httpx.HTTPError, ValueError):
                status = {}
            tasks = status.get("tasks") or []
            for task in tasks:
                if task.get("state") == "FAILED":
                    trace = str(task.get("trace", "")).splitlines()[:1]
                    raise StackError(f"the Iceberg sink task failed: {' '.join(trace)}")
            running = status.get("connector", {}).get("state") == "RUNNING"
            if running and tasks and all(t.get("state") == "RUNNING" for t in tasks):
                return
            time.sleep(0.2)
        raise StackError(f"the Iceberg sink connector was not running after {timeout_s:.0f} s")

    def stop(self) -> None:
        self.daemon.stop(timeout_s=30)
