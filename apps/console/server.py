"""`roadwatch ui`: the console on uvicorn, over the configured catalog and Kafka."""

from __future__ import annotations

import logging

import uvicorn

from apps.console.app import create_app
from apps.console.live import LiveFeed
from apps.console.settings import ConsoleSettings
from roadwatch.analytics.tables import Tables
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.labels.publish import LabelPublisher
from roadwatch.labels.settings import LabelSettings
from roadwatch.settings import KafkaSettings

log = logging.getLogger(__name__)


def serve(settings: ConsoleSettings, catalog: CatalogSettings, kafka: KafkaSettings) -> None:
    """Serve until interrupted (uvicorn handles SIGINT/SIGTERM); with Kafka (`live`), the Event page's label
    buttons send to `labels.v1`."""
    feed = (
        LiveFeed(kafka, settings.verdicts_topic, settings.thresholds_topic).start() if settings.live else None
    )
    labels = LabelPublisher.open(kafka, LabelSettings()) if settings.live else None
    app = create_app(settings, Tables.open(catalog), feed, labels.publish if labels else None)
    log.info("console on http://%s:%d/", settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
