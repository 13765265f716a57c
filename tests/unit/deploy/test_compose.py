"""docker-compose.yml checked against the code: images, commands, settings names and values, health checks."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from apps.cli import build_parser
from flink_jobs.settings import FlinkSettings
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.settings import KafkaSettings
from roadwatch.stack.settings import StackSettings
from services.detector.settings import DetectorSettings
from services.maintainer.settings import MaintainerSettings
from services.sink.settings import SinkSettings
from services.vlm_tier.settings import TierSettings, tier_settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PREFIXES = {
    "ROADWATCH_KAFKA_": KafkaSettings,
    "ROADWATCH_STACK_": StackSettings,
    "ROADWATCH_DETECTOR_": DetectorSettings,
    "ROADWATCH_SINK_": SinkSettings,
    "ROADWATCH_MAINTAINER_": MaintainerSettings,
    "ROADWATCH_CATALOG_": CatalogSettings,
    "ROADWATCH_VLM_": TierSettings,
}


def roadwatch_services() -> list[str]:
    return [n for n, s in SERVICES.items() if s.get("image") == "roadwatch:latest"]


def test_every_service_has_an_image() -> None:
    assert all("image" in s for s in SERVICES.values())
    assert {
        "kafka",
        "topic-init",
        "s3",
        "iceberg-rest",
        "flink-jobmanager",
        "flink-taskmanager",
        "flink-job",
        "detector",
        "vlm-fast",
        "vlm-power",
        "vlm-precision",
        "vllm",
        "sink",
        "maintainer",
        "prometheus",
        "grafana",
    } <= set(SERVICES)


@pytest.mark.parametrize("name", roadwatch_services())
def test_roadwatch_commands_parse_with_the_real_cli(name: str) -> None:
    args = build_parser().parse_args(SERVICES[name]["command"])
    assert callable(args.handler)


@pytest.mark.parametrize("name", roadwatch_services())
def test_settings_names_and_values_are_real(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: str(v) for k, v in SERVICES[name].get("environment", {}).items() if k.startswith("ROADWATCH_")}
    for key, value in env.items():
        prefix = next(p for p in PREFIXES if key.startswith(p))
        assert key[len(prefix) :].lower() in PREFIXES[prefix].model_fields, f"{name}: {key} is not a setting"
        monkeypatch.setenv(key, value.replace("${ROADWATCH_PARTITIONS:-6}", "6").split(":-")[-1].rstrip("}"))
    for prefix, cls in PREFIXES.items():
        if any(k.startswith(prefix) for k in env):
            if cls is TierSettings:
                tier_settings("fast")
            else:
                cls()


def test_flink_settings_names_are_real() -> None:
    names = {name.upper() for name in FlinkSettings.model_fields}
    env = SERVICES["flink-job"]["environment"]
    assert all(k.removeprefix("ROADWATCH_FLINK_") in names for k in env if k.startswith("ROADWATCH_FLINK_"))


def test_health_checks_and_ready_conditions() -> None:
    for name in (
        "kafka",
        "detector",
        "vlm-fast",
        "sink",
        "iceberg-rest",
        "flink-jobmanager",
        "vllm",
        "grafana",
    ):
        assert "healthcheck" in SERVICES[name], name
    for name in roadwatch_services():
        for dep, cond in SERVICES[name].get("depends_on", {}).items():
            assert cond["condition"] in ("service_healthy", "service_completed_successfully"), (name, dep)
    assert SERVICES["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_prometheus_scrapes_every_service_port() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    ours = {"detector:9101", "vlm-fast:9102", "vlm-power:9102", "vlm-precision:9102", "sink:9103"}
    assert ours | {"maintainer:9105"} <= targets
