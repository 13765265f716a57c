"""The cluster profile's Prometheus (Debian's package, started as a plain process): it scrapes every
roadwatch service on its metrics port and Flink's Prometheus reporter, with the rules the compose stack
ships (`deploy/prometheus/rules.yml`)."""

from __future__ import annotations

import json
import shutil
from typing import Any

from roadwatch.errors import StackError
from roadwatch.settings import METRICS_PORTS, ROOT
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.daemon import Daemon

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# a service's extra instances (`run all --instances N`) take its port plus 1000, 2000, ...
MAX_INSTANCES = 4


def daemon(s: ClusterSettings) -> Daemon:
    return Daemon("prometheus", s.home)


def flink_ports(s: ClusterSettings) -> list[int]:
    low, _, high = s.flink_metrics_ports.partition("-")
    return list(range(int(low), int(high or low) + 1))


def config(s: ClusterSettings) -> dict[str, Any]:
    """`prometheus.yml` (as JSON, which YAML reads)."""
    services = [
        f"{s.host}:{port + 1000 * i}"
        for port in sorted(set(METRICS_PORTS.values()))
        for i in range(MAX_INSTANCES)
    ]
    return {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "roadwatch", "static_configs": [{"targets": services}]},
            {"job_name": "flink", "static_configs": [{"targets": [f"{s.host}:{p}" for p in flink_ports(s)]}]},
        ],
    }


def start(s: ClusterSettings) -> int:
    binary = shutil.which("prometheus")
    if binary is None:
        raise StackError(
            "prometheus is not installed: `apt-get install prometheus` (scripts/setup.sh does it as root on"
            " Debian), or set ROADWATCH_CLUSTER_PROMETHEUS=false to run the cluster without it"
        )
    conf = s.home / "prometheus.yml"
    conf.write_text(json.dumps(config(s), indent=2) + "\n")
    d = daemon(s)
    return d.start(
        [
            binary,
            f"--config.file={conf}",
            f"--storage.tsdb.path={s.home / 'prometheus-data'}",
            f"--web.listen-address={s.host}:{s.prometheus_port}",
            "--storage.tsdb.retention.time=2d",
            "--log.level=info",
        ]
    )
