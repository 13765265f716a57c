"""Resolve the Kafka SQL connector jar (and zstd-jni, which it expects on the classpath to read the zstd
batches roadwatch's producers write) from Maven Central once, into the jar cache."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from flink_jobs.settings import CONNECTOR

JARS = (CONNECTOR, "com.github.luben:zstd-jni:1.5.6-10")


def connector_jars(cache: Path) -> list[Path]:
    paths = []
    for coordinate in JARS:
        _, artifact, version = coordinate.split(":")
        target = cache / "flink" / f"{artifact}-{version}.jar"
        if not target.exists():
            mvn = shutil.which("mvn")
            if mvn is None:
                raise RuntimeError(f"Maven is needed once to resolve {coordinate}")
            target.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "dependency:copy",
                    f"-Dartifact={coordinate}",
                    f"-DoutputDirectory={target.parent}",
                ],
                check=True,
                capture_output=True,
            )
        paths.append(target)
    return paths
