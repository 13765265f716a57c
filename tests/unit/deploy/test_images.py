"""The Dockerfiles, docker-compose.yml and deploy/compose.host.yml agree with the versions pinned in one place
(roadwatch/stack/versions.py, flink_jobs/requirements.txt, pyproject.toml), and keep the image rules: one
BASE argument, a non-root user, a health check, OCI labels; on the host override, host networking for
every service and ports apart from the other local stacks."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from flink_jobs.settings import CONNECTOR
from roadwatch.stack import versions

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
HOST: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "compose.host.yml").read_text())
DOCKERFILES = {
    "roadwatch": ROOT / "Dockerfile",
    "kafka": ROOT / "deploy" / "Dockerfile.kafka",
    "iceberg-rest": ROOT / "deploy" / "Dockerfile.iceberg-rest",
    "s3proxy": ROOT / "deploy" / "Dockerfile.s3proxy",
    "flink": ROOT / "deploy" / "Dockerfile.flink",
}
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
FLINK = re.search(r"^apache-flink==(\S+)", (ROOT / "flink_jobs/requirements.txt").read_text(), re.M)
# ports of the other local stacks: embedded, cluster profile, test broker (tests/conftest.py)
TAKEN = [(19092, 19093), (19000, 19000), (19081, 19081), (19090, 19090), (19123, 19124), (19181, 19181)]
TAKEN += [(19192, 19393), (19249, 19259), (29092, 29093)]


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile.read_text(), re.M))


def test_build_arg_defaults_are_the_pinned_versions() -> None:
    assert FLINK is not None
    expected = {
        "kafka": {"KAFKA_VERSION": versions.KAFKA},
        "iceberg-rest": {"ICEBERG_VERSION": versions.ICEBERG},
        "s3proxy": {"S3PROXY_VERSION": versions.S3PROXY},
        "flink": {"FLINK_VERSION": FLINK.group(1), "FLINK_CONNECTOR": CONNECTOR.split(":")[2]},
        "roadwatch": {},
    }
    for image, path in DOCKERFILES.items():
        args = arg_defaults(path)
        assert args["ROADWATCH_VERSION"] == PROJECT_VERSION, image
        for name, version in expected[image].items():
            assert args[name] == version, (image, name)


def test_make_images_passes_the_same_versions() -> None:
    images = load_script("images")
    for image, path in DOCKERFILES.items():
        defaults = arg_defaults(path)
        passed = images.build_args(image)
        assert passed == {k: v for k, v in defaults.items() if k != "BASE"}, image


def test_compose_image_tags_are_the_pinned_versions() -> None:
    assert FLINK is not None
    tags = {name: s["image"] for name, s in COMPOSE["services"].items()}
    assert tags["kafka"] == f"roadwatch-kafka:{versions.KAFKA}"
    assert tags["iceberg-rest"] == f"roadwatch-iceberg-rest:{versions.ICEBERG}"
    assert tags["s3"] == f"roadwatch-s3proxy:{versions.S3PROXY}"
    assert {tags[n] for n in ("flink-jobmanager", "flink-taskmanager", "flink-job")} == {
        f"roadwatch-flink:{FLINK.group(1)}"
    }


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_dockerfile_rules(image: str) -> None:
    text = DOCKERFILES[image].read_text()
    first_from = text.index("\nFROM ")
    assert re.search(r"^ARG BASE=\S+$", text[:first_from], re.M), "one ARG names the base, before FROM"
    assert all(line.startswith("FROM ${BASE}") for line in re.findall(r"^FROM .*$", text, re.M))
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and not user[-1].startswith(("0", "root")), "runs as a non-root user"
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert "org.opencontainers.image.version=" in text
    installs = re.findall(r"pip install [^\n]*", text)
    assert all("--no-index" in line for line in installs), "wheels from the staged context only"
    assert "curl -fsSL" not in text and "ADD http" not in text


def test_every_service_runs_on_host_networking_with_loopback_addresses() -> None:
    assert set(HOST["services"]) == set(COMPOSE["services"])
    assert all(s.get("network_mode") == "host" for s in HOST["services"].values())
    text = (ROOT / "deploy" / "compose.host.yml").read_text()
    hosts = set(re.findall(r"(?://|@)([a-z0-9.-]+):\d+", text))
    assert hosts == {"127.0.0.1"}, hosts


def test_host_ports_do_not_clash_with_the_other_local_stacks() -> None:
    lines = (ROOT / "deploy" / "compose.host.yml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    ports = {int(p) for p in re.findall(r"\b(3\d{4})\b", text)}
    ranges = re.findall(r"\b(\d{5})-(\d{5})\b", text)
    spans = [(p, p) for p in ports] + [(int(a), int(b)) for a, b in ranges]
    assert len(ports) >= 15
    for low, high in spans:
        assert all(high < t_low or low > t_high for t_low, t_high in TAKEN), (low, high)


def test_the_host_config_drops_published_ports_and_refuses_a_service_off_the_host_network() -> None:
    compose_host = load_script("compose_host")
    config = {"services": {"a": {"network_mode": "host", "ports": ["1:1"]}}, "networks": {"default": {}}}
    assert compose_host.host_only(config) == {"services": {"a": {"network_mode": "host"}}}
    with pytest.raises(SystemExit, match="not on host networking: b"):
        compose_host.host_only({"services": {"a": {"network_mode": "host"}, "b": {}}})
