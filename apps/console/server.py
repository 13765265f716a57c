"""`roadwatch ui`: the console on uvicorn, over the configured catalog and Kafka."""

from __future__ import annotations

import logging

import uvicorn

from apps.console.app import create_app
from apps.console.live import LiveFeed
from apps.console.settings import ConsoleSettings
from roadwatch.analytics.tables import Tables
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.settings import KafkaSettings

log = logging.getLogger(__name__)


def serve(settings: ConsoleSettings, catalog: CatalogSettings, kafka: KafkaSettings) -> None:
    """Serve until interrupted (uvicorn handles SIGINT/SIGTERM)."""
    feed = (
        LiveFeed(kafka, settings.verdicts_topic, settings.thresholds_topic).start() if settings.live else None
    )
    app = create_app(settings, Tables.open(catalog), feed)
    log.info("console on http://%s:%d/", settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
