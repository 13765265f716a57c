"""Wire one tier: settings → backend → warm-up → readiness → transactional loop over its escalations (a
shadow: the same, in its own group, its topic created if missing)."""

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
from schemas.records import VlmTier
from services.vlm_tier.backends.base import Backend
from services.vlm_tier.breaker import CircuitBreaker
from services.vlm_tier.pipeline import TierPipeline
from services.vlm_tier.settings import TierSettings, tier_settings

log = logging.getLogger(__name__)


def build_backend(settings: TierSettings) -> Backend:
    if settings.backend == "openai":
        from services.vlm_tier.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            model=settings.model,
            prompt_version=settings.prompt_version,
            timeout_s=settings.timeout_s,
            max_in_flight=settings.max_in_flight,
            send_uri=settings.send_uri,
        )
    from services.vlm_tier.backends.local_backend import LocalBackend

    return LocalBackend(settings.tier, settings.models_dir, settings.limits())


def build_pipeline(settings: TierSettings) -> TierPipeline:
    return TierPipeline(settings, build_backend(settings), CircuitBreaker(settings.tier, settings.breaker))


def run(settings: TierSettings, kafka: KafkaSettings, stop: threading.Event) -> None:
    """Warm the backend up, then consume `escalations.<tier>.v1` until `stop` is set."""
    service = f"vlm-{settings.tier}"
    with serving(service, settings.serving_port) as health:
        pipeline = build_pipeline(settings)
        health.require(pipeline.loads.stalled_after(settings.fetch_stuck_s))
        pipeline.warm_up()
        log.info(
            "tier %s warmed up: backend %s, model %s",
            settings.tier,
            settings.backend,
            pipeline.backend.model,
            extra={"service": service, "tier": settings.tier},
        )
        topic = settings.topic(settings.tier)
        if settings.shadow is not None:
            conf = kafka.client_config()
            ensure_topics(conf, [TopicSpec(settings.shadow_topic, len(partition_ids(conf, topic)))])
        member = member_id(settings.group, settings.instance_id)
        loop = TransactionalLoop(
            service=service,
            consumer=consumer(kafka, settings.group, **{"group.instance.id": member}),
            producer=transactional_producer(kafka, member),
            topics=[topic],
            processor=pipeline,
            batch_size=settings.batch_size,
            batch_timeout_s=settings.batch_timeout_ms / 1000,
            rejoin_timeout_s=kafka.rejoin_timeout_s,
            on_assigned=health.set_ready,
        )
        try:
            loop.run(stop)
        finally:
            pipeline.close()


@one_line_errors("vlm")
def main(tier: VlmTier, **overrides: Any) -> None:
    """`python -m services.vlm_tier --tier T` and `roadwatch run vlm --tier T [--shadow NAME ...]`
    (`overrides`: settings over the environment's)."""
    settings, kafka = tier_settings(tier, **overrides), KafkaSettings()
    run_until_signalled(lambda stop: run(settings, kafka, stop))
