"""Wire the detector: settings → engines → warm-up → readiness → transactional loop over `images.v1`
(a shadow: the same, in its own group, its topic created if missing)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from roadwatch.kafka.admin import ensure_topics, partition_ids
from roadwatch.kafka.clients import consumer, member_id, transactional_producer
from roadwatch.kafka.topics import TopicSpec
from roadwatch.kafka.txloop import TransactionalLoop
from roadwatch.serving import run_until_signalled, serving
from roadwatch.settings import KafkaSettings
from roadwatch.startup import one_line_errors
from roadwatch.vision.engines.base import Engine
from roadwatch.vision.engines.factory import build_engine
from roadwatch.vision.scoring import BandBook
from services.detector.pipeline import SERVICE, DetectorPipeline
from services.detector.settings import DetectorSettings
from services.detector.thresholds import ThresholdsReader

log = logging.getLogger(__name__)


def build_pipeline(settings: DetectorSettings, bands: BandBook | None = None) -> DetectorPipeline:
    engines: list[Engine] = [build_engine(spec, settings.models_dir) for spec in settings.models]
    book = bands if bands is not None else BandBook(settings.band())
    return DetectorPipeline(settings, engines, book)


def run(settings: DetectorSettings, kafka: KafkaSettings, stop: threading.Event) -> None:
    """Warm up, report ready, then consume until `stop` is set."""
    with serving(SERVICE, settings.serving_port) as health:
        bands = BandBook(settings.band())
        pipeline = build_pipeline(settings, bands)
        health.require(pipeline.loads.stalled_after(settings.fetch_stuck_s))
        pipeline.warm_up(settings.warmup_runs)
        reader = ThresholdsReader.start(kafka, settings.thresholds_topic, bands)
        if settings.shadow is not None:
            conf = kafka.client_config()
            partitions = len(partition_ids(conf, settings.input_topic))
            ensure_topics(conf, [TopicSpec(settings.shadow_topic, partitions)])
        member = member_id(settings.group, settings.instance_id)
        loop = TransactionalLoop(
            service=SERVICE,
            consumer=consumer(kafka, settings.group, **{"group.instance.id": member}),
            producer=transactional_producer(kafka, member),
            topics=[settings.input_topic],
            processor=pipeline,
            batch_size=settings.batch_size,
            batch_timeout_s=settings.batch_timeout_ms / 1000,
            rejoin_timeout_s=kafka.rejoin_timeout_s,
            idle=reader.poll,
            on_assigned=health.set_ready,
        )
        log.info(
            "detector%s warmed up: %d model(s), %d per-source bands",
            f" shadow {settings.shadow}" if settings.shadow else "",
            len(settings.models),
            len(bands),
            extra={"service": SERVICE, "topic": settings.input_topic},
        )
        try:
            loop.run(stop)
        finally:
            reader.close()
            pipeline.close()


@one_line_errors("detector")
def main(**overrides: Any) -> None:
    """`python -m services.detector` and `roadwatch run detector [--shadow NAME ...]` (`overrides`: settings
    over the environment's)."""
    settings, kafka = DetectorSettings(**overrides), KafkaSettings()
    run_until_signalled(lambda stop: run(settings, kafka, stop))
