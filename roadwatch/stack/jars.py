"""Resolve the Kafka broker jars (kafka_2.13 + runtime deps + log4j2 binding) from Maven Central, once."""

from __future__ import annotations

import logging
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from roadwatch.errors import StackError

log = logging.getLogger(__name__)


def kafka_classpath(cache_dir: Path, version: str) -> Path:
    """Folder holding every jar the broker needs; resolved with Maven on first use."""
    libs = cache_dir / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (mvn) is needed once to resolve the Kafka jars from Maven Central; install it"
        )
    libs.mkdir(parents=True, exist_ok=True)
    pom = resources.files("roadwatch.stack").joinpath("kafka-pom.xml")
    log.info("resolving Apache Kafka %s jars from Maven Central into %s", version, libs)
    with resources.as_file(pom) as pom_path:
        proc = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom_path),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
                f"-Dkafka.version={version}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise StackError(
            f"mvn could not resolve kafka_2.13:{version}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    if not any(libs.glob(f"kafka_2.13-{version}.jar")):
        raise StackError(f"mvn finished but kafka_2.13-{version}.jar is not in {libs}")
    marker.touch()
    return libs
