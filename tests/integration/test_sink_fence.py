"""Two sinks on the same tables (real broker, real Iceberg): the one that loses the race is fenced, drops what
it buffered and resumes where the other stopped, so nothing lands twice and nothing is lost (the records
after the winner's last offset are read again, not skipped with the fenced batch)."""

import logging
import uuid
from collections import Counter
from pathlib import Path

import pytest

from apps.bench.sink import verdicts_only
from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.settings import KafkaSettings
from services.sink.pipeline import Sink
from services.sink.service import build
from tests.helpers import send_verdicts, wait_for

pytestmark = pytest.mark.integration


def _sink(kafka: KafkaSettings, catalog: CatalogSettings, topic: str, instance: str) -> Sink:
    settings = verdicts_only(  # flushes only when the test says so
        topic,
        group_id=f"g.{instance}.{uuid.uuid4().hex[:8]}",
        instance_id=instance,
        flush_rows=1_000_000,
        freshness_ms=600_000,
        metrics_port=0,
    )
    sink = build(settings, catalog, kafka)
    sink.subscribe()
    return sink


def _fill(sink: Sink, n: int) -> None:
    def step() -> bool:
        sink.step()
        return sink.buffered >= n

    wait_for(step, 60, f"{n} records buffered", every_s=0)


def test_the_sink_that_loses_the_race_is_fenced_and_resumes_after_the_winner(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topic = topic_factory("fence")
    producer = producer_factory()
    catalog = CatalogSettings(warehouse=str(tmp_path / "warehouse"))
    caplog.set_level(logging.WARNING, logger="services.sink.pipeline")
    expected = set(send_verdicts(producer, topic, range(60), sources=3))
    loser, winner = _sink(kafka, catalog, topic, "a"), _sink(kafka, catalog, topic, "b")
    try:
        _fill(winner, 60)
        winner.flush(wait=True)
        expected |= set(send_verdicts(producer, topic, range(60, 100), sources=3))
        _fill(loser, 100)
        loser.flush()  # in flight on the commit thread, and stale: the winner committed the first 60
        expected |= set(send_verdicts(producer, topic, range(100, 150), sources=3))
        _fill(loser, 1)  # consumes on while its stale flush is in flight
        loser.flush(wait=True)

        table = open_catalog(catalog).load_table(f"{catalog.namespace}.verdicts")

        def landed() -> Counter[str]:
            ids = table.refresh().scan(selected_fields=("event_id",)).to_arrow()
            return Counter(ids.column("event_id").to_pylist())

        def all_landed() -> bool:
            loser.step()
            loser.flush(wait=True)
            return set(landed()) == expected

        wait_for(all_landed, 60, "every record in the table", every_s=0)
        assert max(landed().values()) == 1, "a record landed twice"
        assert loser.buffered == 0
        assert any("fenced" in r.getMessage() for r in caplog.records), "the loser was never fenced"
    finally:
        loser.close()
        winner.close()
