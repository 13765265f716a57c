"""The sink's readiness while a commit neither returns nor fails (real broker, real Iceberg; the table's
append is held, as a storage call that hangs holds it): /ready turns false once the commit has run longer
than `commit_stuck_s`, says so, and turns true again once the call returns, with the rows landed."""

import threading
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.table import Table

from apps.bench.sink import verdicts_only
from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.serving import Health
from roadwatch.settings import KafkaSettings
from services.sink.service import build
from tests.helpers import send_verdicts, wait_for

pytestmark = pytest.mark.integration
N = 50


class Held:
    """A table whose appends wait until `release` is set."""

    def __init__(self, table: Table) -> None:
        self.table, self.release, self.appending = table, threading.Event(), threading.Event()

    def append(self, rows: pa.Table, snapshot_properties: dict[str, str]) -> None:
        self.appending.set()
        self.release.wait(60)
        self.table.append(rows, snapshot_properties=snapshot_properties)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)


def test_a_commit_that_hangs_turns_readiness_false_until_it_returns(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    topic = topic_factory("stuck-commit")
    producer = producer_factory()
    sent = send_verdicts(producer, topic, range(N), sources=3)
    catalog = CatalogSettings(warehouse=str(tmp_path / "warehouse"))
    settings = verdicts_only(
        topic, group_id=f"g.{uuid.uuid4().hex[:8]}", freshness_ms=100, commit_stuck_s=0.5, metrics_port=0
    )
    sink = build(settings, catalog, kafka)
    held = sink.writers["verdicts"].table = Held(sink.writers["verdicts"].table)  # type: ignore[assignment]
    health, stop = Health("sink-under-test"), threading.Event()
    loop = threading.Thread(target=sink.run, args=(stop, health), daemon=True)
    loop.start()
    try:
        assert held.appending.wait(60), "the sink never started its commit"
        wait_for(lambda: not health.ready, 10, "readiness false while the commit hangs", every_s=0.1)
        assert (health.not_ready_because() or "").startswith("Iceberg commit running for ")
        held.release.set()
        wait_for(lambda: health.ready, 30, "readiness back once the commit returned", every_s=0.1)
    finally:
        held.release.set()
        stop.set()
        loop.join(30)
    table = open_catalog(catalog).load_table(f"{catalog.namespace}.verdicts")
    assert sorted(
        table.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
    ) == sorted(sent)
