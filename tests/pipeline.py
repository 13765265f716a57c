"""The whole pipeline as real processes on the test broker, on topics of its own: detector, the three VLM
tiers (openai backend, each against its own OpenAI-compatible test server), the sink into a fresh Iceberg
warehouse (or the REST catalog `catalog_env` names), and optionally the Flink job. A service name may carry an
instance number (`detector-2`): another member of the same consumer group. For the reliability suites: kill,
restart, read what landed."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from apps.plan import FLINK_PYTHON
from apps.testing.openai_server import OpenAICompatibleServer
from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import (
    DETECTIONS,
    IMAGES,
    SOURCE_STATE,
    THRESHOLDS,
    VERDICTS,
    TopicSpec,
    dlq,
    escalations,
)
from roadwatch.ports import free_port
from roadwatch.producer.api import ProduceReport, produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas.records import VLM_TIERS
from tests.helpers import warehouse_catalog
from tests.services import ServiceProcess

SERVICES = ("detector", *(f"vlm-{t}" for t in VLM_TIERS), "sink", "flink")


@dataclass
class Pipeline:
    kafka: KafkaSettings
    shared: Path
    work: Path
    detector_band: tuple[float, float] = (0.15, 0.45)
    tier_env: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"t.{uuid.uuid4().hex[:8]}.")
    servers: dict[str, OpenAICompatibleServer] = field(default_factory=dict)
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    exits: list[tuple[str, int | None]] = field(default_factory=list)
    # ROADWATCH_CATALOG_* of a REST catalog (the cluster suite); empty: a SQLite catalog in `warehouse`
    catalog_env: dict[str, str] = field(default_factory=dict)
    # settings every service gets besides
    service_env: dict[str, str] = field(default_factory=dict)

    def topic(self, name: str) -> str:
        return self.prefix + name

    @property
    def warehouse(self) -> Path:
        return self.work / "warehouse"

    def create_topics(self) -> None:
        names = [IMAGES, DETECTIONS, VERDICTS, SOURCE_STATE, *(escalations(t) for t in VLM_TIERS)]
        specs = [TopicSpec(self.topic(n), 3) for n in names]
        specs += [TopicSpec(self.topic(dlq(n)), 3) for n in names]
        specs.append(TopicSpec(self.topic(THRESHOLDS), 3, {"cleanup.policy": "compact"}))
        ensure_topics(self.kafka.client_config(), specs)

    def serve_vlm(self, tier: str, port: int = 0) -> OpenAICompatibleServer:
        """(Re)start the test server `tier` talks to, on its old port when it had one."""
        server = OpenAICompatibleServer(model=f"test-{tier}", port=port or self.ports.get(f"api-{tier}", 0))
        self.servers[tier] = server.start()
        self.ports[f"api-{tier}"] = server.port
        return server

    def env(self, service: str) -> dict[str, str]:
        base, _, number = service.rpartition("-") if service[-1].isdigit() else (service, "", "")
        env = self._env(base)
        if number:  # another instance of `base`: its own static member, transactional id and port
            t = f"ROADWATCH_VLM_{base.removeprefix('vlm-').upper()}_" if base.startswith("vlm-") else None
            prefix = t or f"ROADWATCH_{base.upper()}_"
            env |= {f"{prefix}INSTANCE_ID": number, f"{prefix}METRICS_PORT": str(self.port(service))}
        return env

    def _env(self, service: str) -> dict[str, str]:
        roots = json.dumps([str(self.shared / "datasets")])  # files are read only from the datasets
        common = {
            "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "ROADWATCH_DETECTOR_ALLOWED_FILE_ROOTS": roots,
            "ROADWATCH_VLM_ALLOWED_FILE_ROOTS": roots,
            **self.catalog_env,
            **self.service_env,
        }
        if service == "detector":
            return common | {
                "ROADWATCH_DETECTOR_INPUT_TOPIC": self.topic(IMAGES),
                "ROADWATCH_DETECTOR_DETECTIONS_TOPIC": self.topic(DETECTIONS),
                "ROADWATCH_DETECTOR_VERDICTS_TOPIC": self.topic(VERDICTS),
                "ROADWATCH_DETECTOR_ESCALATION_TOPIC": self.topic(escalations("fast")),
                "ROADWATCH_DETECTOR_THRESHOLDS_TOPIC": self.topic(THRESHOLDS),
                "ROADWATCH_DETECTOR_GROUP_ID": self.prefix + "detector",
                "ROADWATCH_DETECTOR_MODELS_DIR": str(self.shared / "models"),
                "ROADWATCH_DETECTOR_METRICS_PORT": str(self.port(service)),
                "ROADWATCH_DETECTOR_BAND_LOW": str(self.detector_band[0]),
                "ROADWATCH_DETECTOR_BAND_HIGH": str(self.detector_band[1]),
            }
        if service.startswith("vlm-"):
            tier = service.removeprefix("vlm-")
            if tier not in self.servers:
                self.serve_vlm(tier)
            t = f"ROADWATCH_VLM_{tier.upper()}_"
            return (
                common
                | {
                    "ROADWATCH_VLM_BACKEND": "openai",
                    "ROADWATCH_VLM_TOPIC_PREFIX": self.prefix,
                    "ROADWATCH_VLM_VERDICTS_TOPIC": self.topic(VERDICTS),
                    "ROADWATCH_VLM_BATCH_SIZE": "64",
                    f"{t}BASE_URL": f"http://127.0.0.1:{self.ports[f'api-{tier}']}/v1",
                    f"{t}MODEL": f"test-{tier}",
                    f"{t}GROUP_ID": self.prefix + service,
                    f"{t}METRICS_PORT": str(self.port(service)),
                }
                | self.tier_env
            )
        if service == "sink":
            return common | {
                "ROADWATCH_SINK_VERDICTS_TOPIC": self.topic(VERDICTS),
                "ROADWATCH_SINK_DETECTIONS_TOPIC": self.topic(DETECTIONS),
                "ROADWATCH_SINK_SOURCE_STATE_TOPIC": self.topic(SOURCE_STATE),
                "ROADWATCH_SINK_DLQ_PATTERN": f"^{re.escape(self.prefix)}.*\\.dlq$",
                "ROADWATCH_SINK_GROUP_ID": self.prefix + "sink",
                "ROADWATCH_SINK_FLUSH_ROWS": "2000",
                "ROADWATCH_SINK_FRESHNESS_MS": "500",
                "ROADWATCH_SINK_METRICS_PORT": str(self.port(service)),
                **({} if self.catalog_env else {"ROADWATCH_CATALOG_WAREHOUSE": str(self.warehouse)}),
            }
        if service == "flink":
            return common | {
                "ROADWATCH_FLINK_DETECTIONS_TOPIC": self.topic(DETECTIONS),
                "ROADWATCH_FLINK_VERDICTS_TOPIC": self.topic(VERDICTS),
                "ROADWATCH_FLINK_STATE_TOPIC": self.topic(SOURCE_STATE),
                "ROADWATCH_FLINK_THRESHOLDS_TOPIC": self.topic(THRESHOLDS),
                "ROADWATCH_FLINK_GROUP_ID": self.prefix + "flink",
                "ROADWATCH_FLINK_CHECKPOINT_MS": "2000",
                "ROADWATCH_FLINK_CHECKPOINT_DIR": str(self.work / "flink-checkpoints"),
                "ROADWATCH_FLINK_METRICS_PORT": str(self.port(service)),
            }
        raise ValueError(f"unknown service {service!r}")

    def port(self, service: str) -> int:
        return self.ports.setdefault(service, free_port())

    def process(self, service: str) -> ServiceProcess:
        log = self.work / f"{service}.log"
        base = service.rpartition("-")[0] if service[-1].isdigit() else service
        if base == "flink":
            return ServiceProcess(
                "flink_jobs.confidence_state", self.env(service), log, python=str(FLINK_PYTHON)
            )
        if base.startswith("vlm-"):
            args = ["--tier", base.removeprefix("vlm-")]
            return ServiceProcess("services.vlm_tier", self.env(service), log, args)
        module = {"detector": "services.detector", "sink": "services.sink"}[base]
        return ServiceProcess(module, self.env(service), log)

    def start(self, services: Iterable[str]) -> None:
        self.create_topics()
        for name in services:
            self.procs[name] = self.process(name).start()

    def restart(self, service: str) -> None:
        """SIGKILL `service` (its whole process group) and start a fresh one."""
        self.procs[service].kill()
        self.procs[service] = self.process(service).start()

    def supervise(self) -> None:
        """Start again whatever exited by itself, as the demo's supervisor and compose's restart policy
        do; `exits` records who and with which code."""
        for name, proc in self.procs.items():
            if not proc.alive():
                self.exits.append((name, proc.returncode))
                self.procs[name] = self.process(name).start()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        for server in self.servers.values():
            server.stop()

    def ready(self, service: str) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port(service)}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, service: str, name: str, labels: str) -> float | None:
        """One sample from a service's /metrics, e.g. metric("vlm-fast", "roadwatch_breaker_state",
        'tier="fast"'); None when the service does not answer or has no such sample."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port(service)}/metrics", timeout=2).text
        except httpx.HTTPError:
            return None
        match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
        return float(match.group(1)) if match else None

    def produce(self, paths: list[Path], source_id: str) -> ProduceReport:
        settings = ProducerSettings(topic=self.topic(IMAGES))
        return produce([str(p) for p in paths], source_id, kafka=self.kafka, settings=settings)

    def catalog(self) -> Catalog | None:
        """The catalog the sink writes to, or None before the sink has made it."""
        if self.catalog_env:
            fields = {k.removeprefix("ROADWATCH_CATALOG_").lower(): v for k, v in self.catalog_env.items()}
            return open_catalog(CatalogSettings.model_validate(fields))
        return warehouse_catalog(self.warehouse)

    def table(self, name: str, columns: tuple[str, ...]) -> pa.Table | None:
        """A table the sink wrote, or None before the sink has created it."""
        catalog = self.catalog()
        if catalog is None:
            return None
        try:
            return catalog.load_table(f"roadwatch.{name}").scan(selected_fields=columns).to_arrow()
        except NoSuchTableError:
            return None

    def verdict_counts(self) -> Counter[str]:
        rows = self.table("verdicts", ("event_id",))
        return Counter() if rows is None else Counter(rows.column("event_id").to_pylist())
