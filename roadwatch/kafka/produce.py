"""Produce one record, serving delivery callbacks while librdkafka's local queue is full (backpressure)."""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import KafkaError, Message, Producer

DeliveryCallback = Callable[[KafkaError | None, Message], None]


def send(
    producer: Producer,
    topic: str,
    key: bytes | None,
    value: bytes,
    on_delivery: DeliveryCallback | None = None,
) -> None:
    """Hand one record to `producer`; while its queue is full, wait for deliveries to free room."""
    while True:
        try:
            producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
            producer.poll(0)
            return
        except BufferError:
            producer.poll(0.05)
