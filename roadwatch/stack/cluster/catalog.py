"""Apache Iceberg's REST catalog for the cluster profile: Iceberg's REST adapter over a JDBC catalog on a
SQLite file, S3FileIO on the cluster's object store, bound to the cluster's host (`java/RestCatalog.java`)."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

from roadwatch.errors import StackError
from roadwatch.stack import versions
from roadwatch.stack.broker import write_private
from roadwatch.stack.cluster import objectstore
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.daemon import Daemon, java, log4j2_config
from roadwatch.stack.jars import classpath

POM_PROPERTIES = {
    "iceberg.version": versions.ICEBERG,
    "jetty.version": versions.JETTY,
    "hadoop.version": versions.HADOOP,
    "sqlite.version": versions.SQLITE_JDBC,
    "log4j.version": versions.LOG4J,
}


def daemon(s: ClusterSettings) -> Daemon:
    return Daemon("iceberg-rest", s.home)


def properties(s: ClusterSettings, credential: str) -> str:
    return "\n".join(
        [
            f"rest.host={s.host}",
            f"rest.port={s.rest_port}",
            "catalog-impl=org.apache.iceberg.jdbc.JdbcCatalog",
            f"uri=jdbc:sqlite:file:{s.home / 'iceberg-catalog.db'}",
            "jdbc.schema-version=V1",
            f"warehouse=s3://{s.bucket}/",
            "io-impl=org.apache.iceberg.aws.s3.S3FileIO",
            f"s3.endpoint={s.s3_endpoint}",
            "s3.path-style-access=true",
            f"s3.access-key-id={s.s3_access_key_id}",
            f"s3.secret-access-key={credential}",
            "client.region=us-east-1",
            "",
        ]
    )


def launcher(libs: Path) -> Path:
    """The folder of `RestCatalog.class` (Iceberg's REST adapter as a main class), compiled once per
    classpath into the cache."""
    out = libs.parent / "classes"
    if (out / "RestCatalog.class").exists():
        return out
    source = resources.files("roadwatch.stack").joinpath("java/RestCatalog.java")
    with resources.as_file(source) as path:
        proc = subprocess.run(
            ["javac", "-d", str(out), "-cp", f"{libs}/*", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise StackError(f"javac could not build the REST catalog launcher: {proc.stderr[-2000:]}")
    return out


def start(s: ClusterSettings) -> int:
    libs = classpath(s.cache_dir, f"iceberg-rest-{versions.ICEBERG}", "rest-catalog-pom.xml", POM_PROPERTIES)
    classes = launcher(libs)
    d = daemon(s)
    props = s.home / "iceberg-rest.properties"
    write_private(props, properties(s, objectstore.secret(s)))
    log4j = s.home / "iceberg-rest-log4j2.properties"
    log4j.write_text(log4j2_config(d.log_file))
    return d.start(
        [
            java(),
            "-Xmx384m",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{classes}:{libs}/*",
            "RestCatalog",
            str(props),
        ],
        env={"AWS_REGION": "us-east-1"},
    )
