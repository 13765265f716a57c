"""The cluster profile's stack for real: three KRaft nodes, s3proxy, the Iceberg REST catalog, a Flink
session cluster running the confidence-state job, Prometheus; the pipeline on it, exactly once, with two
detectors; `roadwatch query` agreeing with the tables; `stack status --json` from the CLI."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from roadwatch.settings import ROOT
from tests.cluster.conftest import Cluster
from tests.cluster.faults import sources_with_state
from tests.helpers import wait_for
from tests.pipeline import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
log = logging.getLogger(__name__)


def cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """`roadwatch --profile cluster ...` pointed at the suite's cluster (its ports are not the defaults)."""
    s = cluster.settings
    env = {
        **os.environ,
        **cluster.client_env,
        "ROADWATCH_CLUSTER_HOME": str(s.home),
        "ROADWATCH_CLUSTER_KAFKA_PORTS": json.dumps(list(s.kafka_ports)),
        "ROADWATCH_CLUSTER_S3_PORT": str(s.s3_port),
        "ROADWATCH_CLUSTER_REST_PORT": str(s.rest_port),
        "ROADWATCH_CLUSTER_FLINK_REST_PORT": str(s.flink_rest_port),
        "ROADWATCH_CLUSTER_PROMETHEUS_PORT": str(s.prometheus_port),
    }
    return subprocess.run(
        [sys.executable, "-m", "apps.cli", "--profile", "cluster", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_component_comes_up_healthy_and_replicated(cluster: Cluster) -> None:
    st = cluster.started
    log.info("cluster up in %.1f s: %s", cluster.up_s, [(c.name, c.healthy) for c in st.components])
    assert st.healthy, [c for c in st.components if not c.healthy]
    names = {c.name for c in st.components}
    assert names >= {"kafka-1", "kafka-2", "kafka-3", "s3proxy", "iceberg-rest", "flink-jobmanager"}
    assert {"flink-taskmanager-1", "prometheus"} <= names
    assert st.brokers == [1, 2, 3]
    assert st.partitions and all(len(p.replicas) == 3 and len(p.isr) == 3 for p in st.partitions)
    assert [j.state for j in st.flink_jobs] == ["RUNNING"]
    for n in (1, 2, 3):  # every node logs through log4j2 to its own file
        logged = (cluster.settings.home / f"kafka-{n}.log").read_text()
        assert f"[KafkaRaftServer nodeId={n}] Kafka Server started" in logged


def test_stack_status_json_reports_each_component_and_the_isr(cluster: Cluster) -> None:
    done = cli(cluster, "stack", "status", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    st = json.loads(done.stdout.strip().splitlines()[-1])
    assert st["profile"] == "cluster" and st["healthy"] is True
    assert {c["name"]: c["address"] for c in st["components"]}["iceberg-rest"] == cluster.settings.rest_uri
    assert all(set(p["isr"]) == {1, 2, 3} for p in st["partitions"] if p["topic"] == "images.v1")
    assert st["flink_jobs"][0]["state"] == "RUNNING"


def test_the_pipeline_on_the_cluster_is_exactly_once_and_query_agrees(
    cluster: Cluster, pipeline: Pipeline, shared_dir: Path
) -> None:
    services = ["detector", "detector-2", "vlm-fast", "vlm-power", "vlm-precision", "sink"]
    pipeline.start(services)
    for name in services:
        wait_for(partial(pipeline.ready, name), 180, f"{name} to be ready")
    pool = sorted((shared_dir / "datasets" / "vtti-workzone").glob("*.jpg"))
    sent: dict[str, str] = {}
    for source in ("stack-cam-a", "stack-cam-b"):
        report = pipeline.produce(pool, source)
        assert report.ok, report.failures[:3]
        sent.update(dict.fromkeys(report.event_ids, source))
    wait_for(lambda: set(pipeline.verdict_counts()) >= set(sent), 300, "a verdict for every image", 2)
    verdicts = pipeline.verdict_counts()
    assert max(verdicts[e] for e in sent) == 1
    # both detectors took a share of the partitions
    for name in ("detector", "detector-2"):
        assert (pipeline.metric(name, "roadwatch_ready", 'service="detector"') or 0) == 1
    # the Flink job on the session cluster folded them: state for both sources lands through the sink
    wait_for(
        lambda: {"stack-cam-a", "stack-cam-b"} <= sources_with_state(pipeline),
        240,
        "source state of both sources from the Flink session cluster",
        2,
    )
    done = cli(cluster, "query", "funnel", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    funnel = json.loads(done.stdout.strip().splitlines()[-1])
    table = pipeline.table("verdicts", ("event_id", "decided_by"))
    assert table is not None
    assert funnel["verdicts"] == table.num_rows and funnel["distinct_verdicts"] == len(verdicts)
    assert funnel["decided_by"] == dict(Counter(table.column("decided_by").to_pylist()))
