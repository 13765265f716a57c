"""Helpers shared by integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer, Message


def consume_all(
    consumer: Consumer, expected: int, timeout_s: float = 60.0, settle_s: float = 0.0
) -> list[Message]:
    """Poll until `expected` records arrived (then `settle_s` more, to catch extras) or the timeout passed."""
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    while time.monotonic() < deadline:
        if len(out) >= expected:
            settle_until = settle_until or time.monotonic() + settle_s
            if time.monotonic() >= settle_until:
                break
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            raise AssertionError(f"consumer error: {msg.error()}")
        out.append(msg)
    return out


def read_committed(
    kafka_bootstrap: str, topic: str, *, idle_s: float = 3.0, timeout_s: float = 120.0
) -> list[Message]:
    """Every committed record of `topic` from the beginning: read until every partition reported its end
    and then `idle_s` passed with nothing new (a slow start on a busy machine does not end it early)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": "read-committed",  # assign() below: the group is never joined
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    partitions = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out: list[Message] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is None:
                if len(at_end) == len(partitions) and time.monotonic() - last >= idle_s:
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise AssertionError(f"consumer error: {msg.error()}")
            out.append(msg)
            at_end.discard(msg.partition())
            last = time.monotonic()
    finally:
        c.close()
    return out


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.5) -> None:
    """Poll `predicate` until true or fail the test with `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
