"""The services of `roadwatch bench pipeline`: every process `roadwatch run all` starts on the embedded
profile (`apps.plan.local_services`, the same specs), each pointed at the bench's own topics (one uuid
prefix), consumer groups, a fresh warehouse and free ports, and measured from outside (the CPU of its
whole process group: the Flink job's JVM counts as the Flink job's)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from apps.bench.sink_sides import CLOCK_TICKS, kafka_env
from apps.plan import FLINK_PYTHON, local_services
from roadwatch.errors import StackError
from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import (
    DETECTIONS,
    IMAGES,
    LABELS,
    SHADOW_DETECTIONS,
    SHADOW_OPINIONS,
    SOURCE_STATE,
    THRESHOLDS,
    VERDICTS,
    all_topics,
    escalations,
)
from roadwatch.ports import free_ports
from roadwatch.settings import ROOT, KafkaSettings
from roadwatch.supervisor import Supervisor, last_line


@dataclass(frozen=True)
class Layout:
    """Where the bench's services read and write: topics named `prefix` + the production name, consumer
    groups from `group` (a name → group id), the tables in `work`/warehouse."""

    prefix: str
    work: Path
    group: Callable[[str], str]

    def topic(self, name: str) -> str:
        return self.prefix + name

    @property
    def warehouse(self) -> Path:
        return self.work / "warehouse"

    def create_topics(self, kafka: KafkaSettings) -> None:
        """Every topic the pipeline uses, under the prefix (`thresholds` compacted, as in production)."""
        specs = [replace(s, name=self.topic(s.name)) for s in all_topics()]
        ensure_topics(kafka.client_config(), specs)

    def env(self, service: str, port: int) -> dict[str, str]:
        """What `service` (a spec name of `local_services`) needs on top of its spec to run in this layout,
        serving on `port`."""
        prefix, own = self._own(service)
        port_field = "PORT" if service == "console" else "METRICS_PORT"
        return {f"{prefix}{k}": v for k, v in {**own, port_field: str(port)}.items()}

    def _own(self, service: str) -> tuple[str, dict[str, str]]:
        t = self.topic
        if service == "detector":
            return "ROADWATCH_DETECTOR_", {
                "INPUT_TOPIC": t(IMAGES),
                "DETECTIONS_TOPIC": t(DETECTIONS),
                "VERDICTS_TOPIC": t(VERDICTS),
                "ESCALATION_TOPIC": t(escalations("fast")),
                "THRESHOLDS_TOPIC": t(THRESHOLDS),
                "SHADOW_TOPIC": t(SHADOW_DETECTIONS),
                "GROUP_ID": self.group(service),
            }
        if service.startswith("vlm-"):
            return f"ROADWATCH_VLM_{service.removeprefix('vlm-').upper()}_", {
                "TOPIC_PREFIX": self.prefix,
                "VERDICTS_TOPIC": t(VERDICTS),
                "SHADOW_TOPIC": t(SHADOW_OPINIONS),
                "GROUP_ID": self.group(service),
            }
        if service == "sink":
            return "ROADWATCH_SINK_", {
                "VERDICTS_TOPIC": t(VERDICTS),
                "DETECTIONS_TOPIC": t(DETECTIONS),
                "SOURCE_STATE_TOPIC": t(SOURCE_STATE),
                "LABELS_TOPIC": t(LABELS),
                "SHADOW_DETECTIONS_TOPIC": t(SHADOW_DETECTIONS),
                "SHADOW_OPINIONS_TOPIC": t(SHADOW_OPINIONS),
                "DLQ_PATTERN": rf"^{re.escape(self.prefix)}.*\.dlq$",
                "GROUP_ID": self.group(service),
                "STATIC_MEMBER": "false",
            }
        if service == "flink":
            return "ROADWATCH_FLINK_", {
                "DETECTIONS_TOPIC": t(DETECTIONS),
                "VERDICTS_TOPIC": t(VERDICTS),
                "STATE_TOPIC": t(SOURCE_STATE),
                "THRESHOLDS_TOPIC": t(THRESHOLDS),
                "GROUP_ID": self.group(service),
                "CHECKPOINT_DIR": str(self.work / "flink-checkpoints"),
            }
        if service == "console":
            return "ROADWATCH_CONSOLE_", {"VERDICTS_TOPIC": t(VERDICTS), "THRESHOLDS_TOPIC": t(THRESHOLDS)}
        if service == "maintainer":
            return "ROADWATCH_MAINTAINER_", {}
        raise ValueError(f"bench pipeline: no layout for service {service!r}")


def supervisor(kafka: KafkaSettings, layout: Layout, models: Path, images: Path, logs: Path) -> Supervisor:
    """`run all`'s services on the embedded profile (the Flink job among them), in `layout`, each on a free
    port, logging to `logs`/<name>.log; they read image files only under `images`."""
    specs = local_services(models.resolve(), images, FLINK_PYTHON)
    if not any(s.name == "flink" for s in specs):
        raise StackError(
            f"bench pipeline needs the Flink job's environment {FLINK_PYTHON} (scripts/setup.sh)"
        )
    common = {
        **kafka_env(kafka),
        "ROADWATCH_CATALOG_TYPE": "sql",
        "ROADWATCH_CATALOG_WAREHOUSE": str(layout.warehouse),
    }
    ports = free_ports(len(specs))
    placed = [
        replace(s, env={**s.env, **common, **layout.env(s.name, port)}, ready_port=port)
        for s, port in zip(specs, ports, strict=True)
    ]
    return Supervisor(placed, logs, ROOT)


def cpu_by_group() -> dict[int, float]:
    """User + system CPU seconds so far of the live processes of each process group (/proc/<pid>/stat)."""
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        pgrp = int(fields[2])  # field 5, the third after the command
        ticks[pgrp] = ticks.get(pgrp, 0) + int(fields[11]) + int(fields[12])  # utime, stime
    return {pgrp: n / CLOCK_TICKS for pgrp, n in ticks.items()}


class Services:
    """The bench's supervised services: each one started in a process group of its own, whose CPU is
    its CPU."""

    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup

    def cpu(self) -> dict[str, float]:
        """Each service's CPU seconds so far."""
        groups = cpu_by_group()
        return {name: groups.get(r.proc.pid, 0.0) for name, r in self.sup.running.items()}

    def check(self) -> None:
        """A service that exited during the bench spoils it (its CPU and the latencies): raise, naming it.

        Raises:
            StackError: a service is no longer running.
        """
        for name, r in self.sup.running.items():
            if not r.proc.alive():
                log = self.sup.logs / f"{name}.log"
                raise StackError(
                    f"bench pipeline: {name} exited ({r.proc.returncode}) during the run: {last_line(log)} "
                    f"(see {log})"
                )
