"""The sink's loop under the consumer-group watchdog: left out of its group past the limit, it ends without
an orderly close (which could block on the stuck client); stopped, it closes."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import TopicPartition

from roadwatch.errors import ConsumerStuckError
from roadwatch.kafka.membership import Rebalance
from services.sink.pipeline import Sink
from services.sink.settings import SinkSettings


class LeftOutConsumer:
    """A consumer the group never assigns anything."""

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


def sink(consumer: LeftOutConsumer, rejoin_timeout_s: float) -> Sink:
    return Sink(SinkSettings(), {}, consumer, rejoin_timeout_s)  # type: ignore[arg-type]


def test_left_out_of_its_group_the_sink_ends_and_leaves_the_consumer_unclosed() -> None:
    consumer = LeftOutConsumer()
    with pytest.raises(ConsumerStuckError, match="sink's consumer has been out of its group"):
        sink(consumer, 0.01).run(threading.Event())
    assert not consumer.closed


def test_a_stopped_sink_closes_its_consumer() -> None:
    consumer, stop = LeftOutConsumer(), threading.Event()
    stop.set()
    sink(consumer, 60).run(stop)
    assert consumer.closed
