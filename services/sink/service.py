"""Wire the sink: settings → catalog and tables → consumer → readiness → the pipeline's loop."""

from __future__ import annotations

import threading

from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.clients import consumer, member_id
from roadwatch.serving import run_until_signalled, serving
from roadwatch.settings import KafkaSettings
from roadwatch.startup import one_line_errors
from services.sink.pipeline import SERVICE, Sink
from services.sink.settings import SinkSettings
from services.sink.writer import Outage, TableWriter


def build(settings: SinkSettings, catalog: CatalogSettings, kafka: KafkaSettings) -> Sink:
    tables = ensure_tables(open_catalog(catalog), catalog.namespace)
    outage = Outage()
    writers = {
        name: TableWriter(t, settings.commit_retries, settings.dedupe_window_s, outage)
        for name, t in tables.items()
    }
    membership = (
        {"group.instance.id": member_id(settings.group_id, settings.instance_id)}
        if settings.static_member
        else {}
    )
    return Sink(
        settings,
        writers,
        consumer(kafka, settings.group_id, **{"topic.metadata.refresh.interval.ms": 5000, **membership}),
        kafka.rejoin_timeout_s,
    )


def run(
    settings: SinkSettings, catalog: CatalogSettings, kafka: KafkaSettings, stop: threading.Event
) -> None:
    with serving(SERVICE, settings.metrics_port) as health:
        build(settings, catalog, kafka).run(stop, health)


@one_line_errors("sink")
def main() -> None:
    """`python -m services.sink` and `roadwatch run sink`."""
    settings, catalog, kafka = SinkSettings(), CatalogSettings(), KafkaSettings()
    run_until_signalled(lambda stop: run(settings, catalog, kafka, stop))
