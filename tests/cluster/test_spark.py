"""Another engine reads what roadwatch wrote: Apache Spark (pyspark 3.5 + iceberg-spark-runtime, in
.venv-spark: scripts/setup-spark.sh) reads the tables through the REST catalog on S3 and gets the same row
counts and the same funnel as `roadwatch query funnel`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from roadwatch.analytics.queries import run_query
from roadwatch.settings import ROOT
from tests.cluster.conftest import Cluster
from tests.cluster.faults import start
from tests.helpers import wait_for
from tests.pipeline import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
SPARK_PYTHON = ROOT / ".venv-spark" / "bin" / "python"
SPARK_JARS = Path.home() / ".cache" / "roadwatch" / "spark"


@pytest.mark.timeout(900)
@pytest.mark.skipif(not SPARK_PYTHON.exists(), reason=".venv-spark is made by scripts/setup-spark.sh")
def test_spark_reads_the_same_counts_and_funnel(
    cluster: Cluster, pipeline: Pipeline, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start(pipeline, ["detector", "vlm-fast", "vlm-power", "vlm-precision", "sink"])
    report = pipeline.produce(sorted((shared_dir / "datasets" / "vtti-workzone").glob("*.jpg")), "spark-cam")
    assert report.ok
    wait_for(lambda: set(pipeline.verdict_counts()) >= set(report.event_ids), 300, "the verdicts", 2)
    pipeline.stop()  # nothing moves while the two engines read
    for key, value in cluster.client_env.items():
        monkeypatch.setenv(key, value)
    ours = run_query("funnel")[0]
    env = {
        **os.environ,
        **{k.replace("ROADWATCH_CATALOG_", "SPARK_CATALOG_"): v for k, v in cluster.catalog_env.items()},
    }
    done = subprocess.run(
        [str(SPARK_PYTHON), str(Path(__file__).with_name("spark_reader.py")), str(SPARK_JARS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    spark = json.loads(done.stdout.strip().splitlines()[-1])
    tables = {t: pipeline.table(t, ("event_id",)) for t in spark["counts"]}
    assert spark["counts"] == {t: (0 if rows is None else rows.num_rows) for t, rows in tables.items()}
    assert spark["funnel"] == ours
