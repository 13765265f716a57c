"""The maintainer's settings and one round of its loop on a real (SQLite-backed) catalog."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from confluent_kafka import Message
from prometheus_client import REGISTRY
from pydantic import ValidationError
from pyiceberg.catalog.sql import SqlCatalog

from apps.plan import local_services
from roadwatch.iceberg import offsets
from roadwatch.iceberg.catalog import ensure_tables
from roadwatch.settings import METRICS_PORTS
from services.maintainer.pipeline import Maintainer
from services.maintainer.settings import MaintainerSettings
from services.sink.convert import to_arrow
from services.sink.writer import TableWriter
from tests.factories import verdict


def test_settings_name_real_tables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADWATCH_MAINTAINER_TABLES", '["verdicts"]')
    assert MaintainerSettings().tables == ["verdicts"]
    assert "dead_letters" in MaintainerSettings(tables=["verdicts", "dead_letters"]).tables
    with pytest.raises(ValidationError, match="not roadwatch tables"):
        MaintainerSettings(tables=["verdict"])
    with pytest.raises(ValidationError):
        MaintainerSettings(tables=[])
    assert MaintainerSettings().metrics_port == METRICS_PORTS["maintainer"] == 9105


def test_the_demo_runs_a_maintainer(tmp_path: Path) -> None:
    specs = {s.name: s for s in local_services(tmp_path, tmp_path, None)}
    assert specs["maintainer"].args == ["-m", "services.maintainer"]


def rows(schema: pa.Schema, i: int) -> pa.Table:
    value = verdict(i).model_dump_json().encode()
    record = Message(topic="v", partition=0, offset=i, key=b"cam-1", value=value, timestamp=(1, 1))
    return to_arrow("verdicts", schema, [record]).table


def sample(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"table": "verdicts"})


def test_a_round_merges_expires_and_publishes_the_layout(tmp_path: Path) -> None:
    catalog = SqlCatalog("roadwatch", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    writer = TableWriter(ensure_tables(catalog, "roadwatch")["verdicts"], retries=2)
    for i in range(9):
        writer.commit(rows(writer.arrow_schema, i), start={("v", 0): i}, end={("v", 0): i + 1})
    settings = MaintainerSettings(
        tables=["verdicts", "labels"], min_small_files=4, snapshot_retention_s=0, metrics_port=0
    )
    maintainer = Maintainer(settings, catalog, "roadwatch")
    merges = sample("roadwatch_maintainer_compactions_total") or 0
    maintainer.round()  # labels: created, never written: nothing to do
    assert sample("roadwatch_maintainer_compactions_total") == merges + 1
    assert sample("roadwatch_maintainer_data_files") == 1
    assert sample("roadwatch_maintainer_partitions") == 1
    assert sample("roadwatch_maintainer_rows") == 9
    assert sample("roadwatch_maintainer_compaction_lag_seconds") == 0
    table = writer.table.refresh()
    assert table.scan().to_arrow().num_rows == 9
    assert offsets.committed(table) == {("v", 0): 9}
    # the merge and the sink's last snapshot (the newest carrying offsets) are all that is left
    assert sample("roadwatch_maintainer_snapshots") == len(table.snapshots()) == 2
    assert maintainer.outage() is None
