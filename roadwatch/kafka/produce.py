"""Produce one record, serving delivery callbacks while librdkafka's local queue is full (backpressure);
flush in short steps, so that what a callback raised (a refused login) surfaces at once."""

from __future__ import annotations

import time
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


def flush(producer: Producer, timeout_s: float) -> int:
    """Wait up to `timeout_s` for every record to be delivered; returns how many are not. One long
    `flush` would serve the callbacks throughout and raise what one raised only at its end.

    Raises:
        AuthenticationError: the brokers refused the login (from the producer's ClientWatch).
    """
    deadline = time.monotonic() + timeout_s
    remaining = producer.flush(min(1.0, timeout_s))
    while remaining and time.monotonic() < deadline:
        remaining = producer.flush(min(1.0, max(deadline - time.monotonic(), 0.0)))
    return remaining
