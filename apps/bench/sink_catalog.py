"""The REST catalog both sides of `roadwatch bench sink --peer kafka-connect` write through: the configured
one when it is a REST catalog (the cluster profile's, on S3), else one the bench starts the way the cluster
profile does (`roadwatch.stack.cluster.catalog`: Iceberg's REST adapter over a JDBC catalog on SQLite), on a
loopback port, with a file warehouse in a temporary directory, and stops afterwards."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from roadwatch.errors import StackError
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.ports import free_port
from roadwatch.stack import versions
from roadwatch.stack.cluster import catalog as cluster_catalog
from roadwatch.stack.daemon import Daemon, java, log4j2_config
from roadwatch.stack.jars import classpath

log = logging.getLogger(__name__)
START_TIMEOUT_S = 90.0


def file_catalog_properties(home: Path, port: int) -> str:
    """The server's properties: JDBC catalog on `home/catalog.db`, tables under `home/warehouse`."""
    return "\n".join(
        [
            "rest.host=127.0.0.1",
            f"rest.port={port}",
            "catalog-impl=org.apache.iceberg.jdbc.JdbcCatalog",
            f"uri=jdbc:sqlite:file:{home / 'catalog.db'}",
            "jdbc.schema-version=V1",
            f"warehouse={(home / 'warehouse').as_uri()}",
            "",
        ]
    )


def _wait_ready(uri: str, d: Daemon) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if d.running_pid() is None:
            raise StackError(f"the bench's REST catalog exited: {d.last_words()}")
        try:
            if httpx.get(f"{uri}/v1/config", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise StackError(f"the bench's REST catalog did not answer within {START_TIMEOUT_S:.0f} s")


@contextmanager
def rest_catalog(configured: CatalogSettings, home: Path, cache_dir: Path) -> Iterator[CatalogSettings]:
    """The configured REST catalog, or one started under `home` (stopped on exit)."""
    if configured.type == "rest":
        yield configured
        return
    libs = classpath(
        cache_dir,
        f"iceberg-rest-{versions.ICEBERG}",
        "rest-catalog-pom.xml",
        cluster_catalog.POM_PROPERTIES,
    )
    classes = cluster_catalog.launcher(libs)
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    props = home / "iceberg-rest.properties"
    props.write_text(file_catalog_properties(home, port))
    d = Daemon("iceberg-rest", home)
    (home / "iceberg-rest-log4j2.properties").write_text(log4j2_config(d.log_file, "WARN"))
    d.start(
        [
            java(),
            "-Xmx512m",
            f"-Dlog4j2.configurationFile={home / 'iceberg-rest-log4j2.properties'}",
            "-cp",
            f"{classes}:{libs}/*",
            "RestCatalog",
            str(props),
        ]
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(uri, d)
        log.info("bench REST catalog on %s (warehouse %s)", uri, home / "warehouse")
        yield CatalogSettings(type="rest", uri=uri, warehouse=(home / "warehouse").as_uri())
    finally:
        d.stop()
