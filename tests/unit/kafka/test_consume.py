"""Which consumer errors end a service: a fenced static member ends it (librdkafka reports that as `_FATAL`
with `fatal()` False on the message), a partition's end or a passing error does not."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from confluent_kafka import KafkaError, KafkaException

from roadwatch.kafka.consume import records


@dataclass
class Msg:
    err: KafkaError | None = None

    def error(self) -> KafkaError | None:
        return self.err


FENCED_TEXT = (
    "Fatal consumer error: Broker: Static consumer fenced by other consumer with same group.instance.id"
)


@pytest.mark.parametrize(
    "err",
    [
        KafkaError(KafkaError._FATAL, FENCED_TEXT),  # what the broker's fencing looks like here
        KafkaError(KafkaError.FENCED_INSTANCE_ID, "fenced"),
        KafkaError(KafkaError._TRANSPORT, "anything", fatal=True),
    ],
)
def test_a_fenced_or_fatal_consumer_raises(err: KafkaError) -> None:
    with pytest.raises(KafkaException):
        records([Msg(), Msg(err)], "sink")  # type: ignore[list-item]


def test_records_pass_and_passing_errors_are_skipped() -> None:
    good = Msg()
    got = records(
        [good, Msg(KafkaError(KafkaError._PARTITION_EOF)), Msg(KafkaError(KafkaError._TRANSPORT))],  # type: ignore[list-item]
        "sink",
    )
    assert got == [good]
