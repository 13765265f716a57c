"""The cluster suite's stack: the cluster profile's components (`roadwatch.stack.cluster`) started once for
the session on ports of their own (29xxx, beside any cluster a developer runs), and the client settings
that point at it. Its tests share the default topics; each reads back only the events it sent."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roadwatch.settings import KafkaSettings
from roadwatch.stack.cluster import control, objectstore
from roadwatch.stack.cluster.control import ClusterStatus
from roadwatch.stack.cluster.settings import ClusterSettings
from tests.pipeline import Pipeline

log = logging.getLogger(__name__)
# the stack's own checks first (they read what `up` reported), the faults last
ORDER = ("test_stack.py", "test_spark.py", "test_faults.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return ORDER.index(name) if item.path.parent == Path(__file__).parent and name in ORDER else -1

    items.sort(key=rank)  # stable: everything outside this folder keeps its place, ahead of it


@dataclass(frozen=True)
class Cluster:
    settings: ClusterSettings
    started: ClusterStatus  # what `up` reported
    up_s: float  # how long `up` took, cold jars aside

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.settings.bootstrap)

    @property
    def catalog_env(self) -> dict[str, str]:
        """ROADWATCH_CATALOG_* of the cluster's REST catalog on its S3 server."""
        s = self.settings
        return {
            "ROADWATCH_CATALOG_TYPE": "rest",
            "ROADWATCH_CATALOG_URI": s.rest_uri,
            "ROADWATCH_CATALOG_WAREHOUSE": f"s3://{s.bucket}/",
            "ROADWATCH_CATALOG_S3_ENDPOINT": s.s3_endpoint,
            "ROADWATCH_CATALOG_S3_ACCESS_KEY_ID": s.s3_access_key_id,
            "ROADWATCH_CATALOG_S3_SECRET_ACCESS_KEY": objectstore.secret(s),
        }

    @property
    def client_env(self) -> dict[str, str]:
        """Everything a roadwatch process needs to use this cluster."""
        return {"ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": self.settings.bootstrap, **self.catalog_env}


def cluster_settings(home: Path) -> ClusterSettings:
    return ClusterSettings(
        home=home,
        kafka_ports=(29192, 29292, 29392),
        s3_port=29000,
        rest_port=29181,
        flink_rest_port=29081,
        flink_rpc_port=29123,
        flink_metrics_ports="29249-29259",
        prometheus_port=29090,
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    s = cluster_settings(tmp_path_factory.mktemp("cluster"))
    env = {"ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": s.bootstrap}
    began = time.monotonic()
    try:
        started = control.up(s, env)
        yield Cluster(s, started, time.monotonic() - began)
    finally:
        control.down(s)
        shutil.rmtree(s.home, ignore_errors=True)


@pytest.fixture
def pipeline(cluster: Cluster, shared_dir: Path, tmp_path: Path) -> Iterator[Pipeline]:
    """The pipeline's services on the cluster (no Flink of their own: the cluster runs the job), on the
    default topics, writing through the REST catalog."""
    p = Pipeline(
        cluster.kafka,
        shared_dir,
        tmp_path,
        detector_band=(0.05, 0.6),
        tier_env={"ROADWATCH_VLM_FAST_ACCEPT": "0.95", "ROADWATCH_VLM_POWER_ACCEPT": "0.95"},
        prefix="",
        catalog_env=cluster.catalog_env,
    )
    yield p
    p.stop()
