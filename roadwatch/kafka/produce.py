"""Produce one record, serving delivery callbacks while librdkafka's local queue is full (backpressure);
flush in short steps, so that what a callback raised (a refused login) surfaces at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import KafkaError, Message, Producer

from roadwatch.errors import StackError

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


def deliver(producer: Producer, topic: str, records: Iterable[tuple[bytes, bytes]], timeout_s: float) -> int:
    """Send (key, value) `records` to `topic` and wait until each is acknowledged; how many were sent.

    Raises:
        StackError: a record was refused or not delivered within `timeout_s`.
    """
    errors: list[KafkaError] = []

    def delivered(err: KafkaError | None, _: Message) -> None:
        if err is not None:
            errors.append(err)

    sent = 0
    for key, value in records:
        send(producer, topic, key, value, delivered)
        sent += 1
    left = flush(producer, timeout_s)
    if left or errors:
        first = f": {errors[0].str()}" if errors else ""
        raise StackError(f"{left + len(errors)} of {sent} records not delivered to {topic}{first}")
    return sent
