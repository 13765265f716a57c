"""The sink's loop under the consumer-group watchdog: left out of its group past the limit, it ends without
an orderly close (which could block on the stuck client); stopped, it closes."""

from __future__ import annotations

import threading

import pytest

from roadwatch.errors import ConsumerStuckError
from services.sink.pipeline import Sink
from services.sink.settings import SinkSettings
from tests.helpers import LeftOutConsumer


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
