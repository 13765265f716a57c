"""The sink with several conversion threads (real broker, real Iceberg): however the chunks' conversions
finish, each flush lands its rows once and in consumption order (each source's offsets ascending in the
table's file)."""

import uuid
from pathlib import Path

import pytest

from apps.bench.sink import verdicts_only
from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.settings import KafkaSettings
from services.sink.service import build
from tests.helpers import send_verdicts, wait_for

pytestmark = pytest.mark.integration
N = 3000


def test_chunks_converted_on_four_threads_land_once_in_consumption_order(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    topic = topic_factory("convert-workers")
    producer = producer_factory()
    # captured 08:00 onwards, one second apart: one day partition, one file
    sent = send_verdicts(producer, topic, range(N), sources=7)
    catalog = CatalogSettings(warehouse=str(tmp_path / "warehouse"))
    settings = verdicts_only(
        topic,
        group_id=f"g.{uuid.uuid4().hex[:8]}",
        convert_workers=4,
        max_poll_records=37,  # many small chunks, converted side by side
        flush_rows=1_000_000,
        freshness_ms=600_000,
        metrics_port=0,
    )
    sink = build(settings, catalog, kafka)
    sink.subscribe()
    try:

        def all_buffered() -> bool:
            sink.step()
            return sink.buffered >= N

        wait_for(all_buffered, 60, f"{N} records buffered", every_s=0)
        sink.flush(wait=True)
    finally:
        sink.close()

    table = open_catalog(catalog).load_table(f"{catalog.namespace}.verdicts")
    rows = table.scan(selected_fields=("event_id", "source_id", "kafka_offset")).to_arrow().to_pylist()
    assert sorted(r["event_id"] for r in rows) == sorted(sent)
    for source in {r["source_id"] for r in rows}:  # a source's records share a key, so a partition
        offsets = [r["kafka_offset"] for r in rows if r["source_id"] == source]
        assert offsets == sorted(offsets), f"{source} out of consumption order"
