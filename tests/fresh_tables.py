"""A sink and a maintainer as real processes on one verdicts topic and a fresh SQLite warehouse, fed at a
steady rate: for the maintainer's integration and SIGKILL tests. What landed is checked the same way in each:
every row exactly once, and the offsets the sink resumes from are those of the last record sent."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import Message, Producer
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from roadwatch.iceberg import offsets
from roadwatch.iceberg.maintenance import Files
from roadwatch.iceberg.offsets import Offsets
from roadwatch.ports import free_port
from roadwatch.settings import KafkaSettings
from tests.factories import verdict
from tests.helpers import wait_for, warehouse_catalog
from tests.services import ServiceProcess


@dataclass
class FreshTables:
    kafka: KafkaSettings
    topic: str
    work: Path
    sink_env: dict[str, str] = field(default_factory=dict)
    maintainer_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)
    group: str = field(default_factory=lambda: f"sink-{uuid.uuid4().hex[:8]}")
    produced_ms: dict[tuple[int, int], int] = field(default_factory=dict)  # (partition, offset) → CreateTime
    commits: dict[int, tuple[int, Offsets]] = field(default_factory=dict)  # sink snapshot → (time, offsets)

    @property
    def warehouse(self) -> Path:
        return self.work / "warehouse"

    def env(self, service: str) -> dict[str, str]:
        common = {
            "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "ROADWATCH_CATALOG_WAREHOUSE": str(self.warehouse),
        }
        port = str(self.ports.setdefault(service, free_port()))
        if service == "sink":
            return common | {
                "ROADWATCH_SINK_VERDICTS_TOPIC": self.topic,
                "ROADWATCH_SINK_DETECTIONS_TOPIC": f"{self.topic}.none-d",
                "ROADWATCH_SINK_SOURCE_STATE_TOPIC": f"{self.topic}.none-s",
                "ROADWATCH_SINK_DLQ_PATTERN": rf"^{re.escape(self.topic)}\.none\.dlq$",
                "ROADWATCH_SINK_GROUP_ID": self.group,
                "ROADWATCH_SINK_FRESHNESS_MS": "1000",
                "ROADWATCH_SINK_METRICS_PORT": port,
                **self.sink_env,
            }
        return common | {
            "ROADWATCH_MAINTAINER_TABLES": '["verdicts"]',
            "ROADWATCH_MAINTAINER_INTERVAL_S": "1",
            "ROADWATCH_MAINTAINER_SNAPSHOT_RETENTION_S": "5",
            "ROADWATCH_MAINTAINER_METRICS_PORT": port,
            **self.maintainer_env,
        }

    def start(self, service: str) -> None:
        module = {"sink": "services.sink", "maintainer": "services.maintainer"}[service]
        self.procs[service] = ServiceProcess(module, self.env(service), self.work / f"{service}.log").start()

    def restart(self, service: str) -> None:
        """SIGKILL `service` (its whole process group) and start a fresh one."""
        self.procs[service].kill()
        self.start(service)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def ready(self, service: str) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports[service]}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, service: str, name: str) -> float:
        """A sample of the `verdicts` table from a service's /metrics (0 when absent or unreachable)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.ports[service]}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0.0
        found = re.search(rf'^{re.escape(name)}\{{table="verdicts"\}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    def log_count(self, service: str, needle: str) -> int:
        path = self.work / f"{service}.log"
        return path.read_text(errors="replace").count(needle) if path.exists() else 0

    def all_alive(self) -> None:
        for name, proc in self.procs.items():
            if not proc.alive():
                tail = "\n".join((self.work / f"{name}.log").read_text(errors="replace").splitlines()[-30:])
                raise AssertionError(f"{name} exited by itself ({proc.returncode}):\n{tail}")

    def feed(self, producer: Producer, rate: int, seconds: float, stop: threading.Event) -> threading.Thread:
        """Produce `rate` verdicts a second for `seconds` on a thread (their ids go into `sent`)."""

        def run() -> None:
            start, i = time.monotonic(), len(self.sent)
            while not stop.is_set() and time.monotonic() - start < seconds:
                due = int((time.monotonic() - start) * rate)
                while i < due:
                    v = verdict(i, source=f"cam-{i % 7}")
                    producer.produce(
                        self.topic,
                        key=v.source_id.encode(),
                        value=v.model_dump_json().encode(),
                        on_delivery=self._delivered,
                    )
                    self.sent.add(v.event_id)
                    i += 1
                producer.poll(0)
                time.sleep(0.01)
            producer.flush(30)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def _delivered(self, err: object, msg: Message) -> None:
        if err is None:
            self.produced_ms[(msg.partition() or 0, msg.offset() or 0)] = msg.timestamp()[1]

    def watch_commits(self, stop: threading.Event) -> threading.Thread:
        """Note every sink snapshot's time and offsets as they come (expiry removes them later)."""

        def run() -> None:
            table = None
            while not stop.wait(0.5):
                table = table.refresh() if table is not None else self.table()
                for snap in table.snapshots() if table is not None else []:
                    summary = snap.summary
                    if summary is not None and offsets.OFFSETS_KEY in summary.additional_properties:
                        value = offsets.decode(summary.additional_properties[offsets.OFFSETS_KEY])
                        self.commits.setdefault(snap.snapshot_id, (snap.timestamp_ms, value))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def freshness_s(self) -> list[float]:
        """Per record: from its CreateTime to the commit of the first sink snapshot whose offsets cover it."""
        done: dict[int, int] = {}
        out = []
        for at, covered in sorted(self.commits.values(), key=lambda c: c[0]):
            for (_, partition), end in covered.items():
                for offset in range(done.get(partition, 0), end):
                    if (partition, offset) in self.produced_ms:
                        out.append((at - self.produced_ms[(partition, offset)]) / 1000)
                done[partition] = max(done.get(partition, 0), end)
        return out

    def table(self) -> Table | None:
        catalog = warehouse_catalog(self.warehouse)
        if catalog is None:
            return None
        try:
            return catalog.load_table("roadwatch.verdicts")
        except NoSuchTableError:
            return None

    def landed(self) -> Counter[str]:
        table = self.table()
        if table is None:
            return Counter()
        ids = table.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
        return Counter(ids)

    def wait_landed(self, timeout_s: float) -> Counter[str]:
        def check() -> bool:
            self.all_alive()
            return set(self.landed()) >= self.sent

        wait_for(check, timeout_s, f"all {len(self.sent)} verdicts in Iceberg", every_s=2)
        return self.landed()

    def check_exactly_once(self) -> Table:
        """Every row sent landed once, and the table's offsets are those of the last record sent."""
        landed = self.landed()
        assert set(landed) == self.sent, (
            f"lost {len(self.sent - set(landed))}, unknown {len(set(landed) - self.sent)}"
        )
        duplicated = [e for e, n in landed.items() if n > 1]
        assert not duplicated, f"{len(duplicated)} rows landed twice, e.g. {duplicated[:3]}"
        table = self.table()
        assert table is not None
        committed = offsets.committed(table)
        assert {t for t, _ in committed} == {self.topic}
        assert sum(committed.values()) == len(self.sent), committed  # offsets 0.. per partition, none skipped
        return table


def data_files(table: Table) -> int:
    return len(Files().live(table))
