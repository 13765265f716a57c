"""Resolve the stack's Java components from Maven Central once, into the jar cache: a folder of jars per
small pom shipped beside this module (the Kafka broker, the Iceberg REST catalog, a Kafka Connect worker and
the Iceberg sink connector's plugin folder), or one artifact (s3proxy).
A folder's name carries a hash of its pom and properties, so a changed pom resolves afresh instead of
mixing old jars with new ones."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from roadwatch.errors import StackError
from roadwatch.stack import versions

log = logging.getLogger(__name__)


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (mvn) is needed once to resolve the stack's jars from Maven Central; install it"
        )
    return mvn


def _run_mvn(args: list[str], what: str) -> None:
    proc = subprocess.run([_mvn(), "-q", "-B", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"mvn could not resolve {what}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def classpath(cache_dir: Path, name: str, pom: str, properties: dict[str, str]) -> Path:
    """The folder holding every runtime jar of the pom `pom` (a resource of this package) with
    `properties` set; resolved with Maven on first use."""
    text = resources.files("roadwatch.stack").joinpath(pom).read_text()
    key = hashlib.sha256((text + repr(sorted(properties.items()))).encode()).hexdigest()[:12]
    libs = cache_dir / f"{name}-{key}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    libs.mkdir(parents=True, exist_ok=True)
    log.info("resolving %s jars from Maven Central into %s", name, libs)
    with resources.as_file(resources.files("roadwatch.stack").joinpath(pom)) as pom_path:
        _run_mvn(
            [
                "-f",
                str(pom_path),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
                *(f"-D{k}={v}" for k, v in sorted(properties.items())),
            ],
            name,
        )
    marker.touch()
    return libs


def artifact(cache_dir: Path, coordinate: str) -> Path:
    """One jar (`group:artifact:version[:type:classifier]`) in the cache, downloaded on first use."""
    parts = coordinate.split(":")
    artifact_id, version = parts[1], parts[2]
    classifier = f"-{parts[4]}" if len(parts) > 4 else ""
    target = cache_dir / "jars" / f"{artifact_id}-{version}{classifier}.jar"
    if not target.exists():
        log.info("downloading %s from Maven Central", coordinate)
        _run_mvn(
            ["dependency:copy", f"-Dartifact={coordinate}", f"-DoutputDirectory={target.parent}"], coordinate
        )
        if not target.exists():
            raise StackError(f"mvn finished but {target} is missing")
    return target


def kafka_classpath(cache_dir: Path, version: str) -> Path:
    """The Kafka broker: kafka_2.13 with its runtime dependencies and a log4j2 binding for its slf4j."""
    libs = classpath(
        cache_dir,
        f"kafka-{version}",
        "kafka-pom.xml",
        {"kafka.version": version, "log4j.version": versions.LOG4J},
    )
    if not any(libs.glob(f"kafka_2.13-{version}.jar")):
        raise StackError(f"mvn finished but kafka_2.13-{version}.jar is not in {libs}")
    return libs


def connect_classpath(cache_dir: Path) -> Path:
    """A Kafka Connect worker (`org.apache.kafka.connect.cli.ConnectStandalone`): connect-runtime,
    connect-json, connect-transforms and a log4j2 binding."""
    version = versions.CONNECT
    libs = classpath(
        cache_dir,
        f"connect-{version}",
        "connect-pom.xml",
        {"connect.version": version, "log4j.version": versions.LOG4J},
    )
    if not any(libs.glob(f"connect-runtime-{version}.jar")):
        raise StackError(f"mvn finished but connect-runtime-{version}.jar is not in {libs}")
    return libs


def iceberg_connect_plugin(cache_dir: Path) -> Path:
    """The folder to name in a Connect worker's `plugin.path`: it holds one plugin, the Apache Iceberg sink
    connector with its dependencies (its `libs/`)."""
    version = versions.ICEBERG_CONNECT
    libs = classpath(
        cache_dir,
        f"iceberg-connect-{version}",
        "connect-iceberg-pom.xml",
        {"iceberg.version": version, "hadoop.version": versions.HADOOP},
    )
    if not any(libs.glob(f"iceberg-kafka-connect-{version}.jar")):
        raise StackError(f"mvn finished but iceberg-kafka-connect-{version}.jar is not in {libs}")
    return libs.parent
