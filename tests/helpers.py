"""Helpers shared by integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from pyiceberg.catalog import Catalog

from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.consume import read_to_end
from roadwatch.kafka.membership import Rebalance
from roadwatch.settings import KafkaSettings
from tests.factories import verdict


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
    """Every committed record of `topic` from the beginning (`roadwatch.kafka.consume.read_to_end`)."""
    return read_to_end(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), topic, idle_s=idle_s, timeout_s=timeout_s
    )


def send_verdicts(producer: Producer, topic: str, ids: range, sources: int) -> list[str]:
    """Produce `verdict(i)` for each i, keyed by its source (`cam-{i % sources}`); the event_ids in order."""
    sent = []
    for i in ids:
        v = verdict(i, source=f"cam-{i % sources}")
        producer.produce(topic, key=v.source_id.encode(), value=v.model_dump_json().encode())
        sent.append(v.event_id)
    producer.flush(10)
    return sent


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.5) -> None:
    """Poll `predicate` until true or fail the test with `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def warehouse_catalog(warehouse: Path) -> Catalog | None:
    """The SQLite catalog a sink process writes under `warehouse`, or None before it has made it (opened as
    the services open it: a test that polls while the sink creates it must not lose the creation race)."""
    if not (warehouse / "catalog.db").exists():
        return None
    return open_catalog(CatalogSettings(type="sql", name="roadwatch", uri=None, warehouse=str(warehouse)))


class LeftOutConsumer:
    """A consumer the group never assigns anything: it subscribes, gets no records, and can be closed."""

    def __init__(self) -> None:
        self.closed = False

    def subscribe(self, topics: list[str], *, on_assign: Rebalance, on_revoke: Rebalance) -> None:
        pass

    def assignment(self) -> list[TopicPartition]:
        return []

    def consume(self, num_messages: int, timeout: float) -> list[object]:
        return []

    def close(self) -> None:
        self.closed = True
