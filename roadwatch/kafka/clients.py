"""Builders for the producers and consumers every service uses (settings in, client out; none at import)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, Producer

from roadwatch.settings import KafkaSettings


def idempotent_producer(kafka: KafkaSettings, **overrides: Any) -> Producer:
    """acks=all, idempotence, zstd, linger for batching."""
    return Producer(
        kafka.client_config(
            **{
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "zstd",
                "linger.ms": 20,
                "batch.size": 1_000_000,
                **overrides,
            }
        )
    )


def transactional_producer(kafka: KafkaSettings, transactional_id: str, **overrides: Any) -> Producer:
    """A producer for read-process-write transactions; `init_transactions` already called."""
    producer = idempotent_producer(
        kafka, **{"transactional.id": transactional_id, "transaction.timeout.ms": 60_000, **overrides}
    )
    producer.init_transactions(30)
    return producer


def consumer(kafka: KafkaSettings, group_id: str, **overrides: Any) -> Consumer:
    """read_committed, no auto commit, no auto offset store: offsets move only after the effect."""
    return Consumer(
        kafka.client_config(
            **{
                "group.id": group_id,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                **overrides,
            }
        )
    )


def member_id(group_id: str, instance_id: str) -> str:
    """A service instance's static group membership id, also its transactional id: a restarted instance
    takes its partitions straight back and fences its previous producer."""
    return f"{group_id}-{instance_id}"
