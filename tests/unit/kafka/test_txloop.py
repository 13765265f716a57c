"""The transactional loop's handling of Kafka errors, without a broker."""

import threading
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from roadwatch.errors import ConsumerStuckError, TransactionStuckError
from roadwatch.kafka.txloop import LAG, TransactionalLoop, bounded
from tests.helpers import LeftOutConsumer


def loop(consumer: object = None, rejoin_timeout_s: float = 60) -> TransactionalLoop:
    return TransactionalLoop(
        service="t",
        consumer=consumer,  # type: ignore[arg-type]
        producer=None,  # type: ignore[arg-type]
        topics=[],
        processor=lambda batch: [],
        batch_size=1,
        batch_timeout_s=0.1,
        rejoin_timeout_s=rejoin_timeout_s,
    )


def failing(errors: list[KafkaError]) -> tuple[Callable[[], None], list[int]]:
    calls = [0]

    def call() -> None:
        calls[0] += 1
        if errors:
            raise KafkaException(errors.pop(0))

    return call, calls


def test_retriable_errors_are_retried_until_the_call_succeeds() -> None:
    timeout = KafkaError(KafkaError._TIMED_OUT, "broker away", retriable=True)
    call, calls = failing([timeout, timeout])
    loop()._retrying("commit", call, 1, pause_s=0)
    assert calls == [3]


@pytest.mark.parametrize(
    "error",
    [
        KafkaError(KafkaError._STATE, "abortable", txn_requires_abort=True, retriable=True),
        KafkaError(KafkaError._FENCED, "fenced", fatal=True),
        KafkaError(KafkaError.INVALID_TXN_STATE, "not retriable"),
    ],
)
def test_abortable_fatal_and_other_errors_go_to_the_caller(error: KafkaError) -> None:
    call, calls = failing([error])
    with pytest.raises(KafkaException):
        loop()._retrying("commit", call, 1, pause_s=0)
    assert calls == [1]


def test_a_call_blocked_past_its_timeout_ends_the_wait() -> None:
    release = threading.Event()
    with pytest.raises(TransactionStuckError, match="send offsets still blocked"):
        bounded("send offsets", release.wait, 0.05)
    release.set()


def test_a_bounded_call_passes_its_error_on() -> None:
    call, _ = failing([KafkaError(KafkaError._FENCED, "fenced", fatal=True)])
    with pytest.raises(KafkaException):
        bounded("commit", call, 5)


class LagConsumer:
    """What `_report_lag` asks a consumer: its assignment, positions and watermarks."""

    def __init__(self, watermarks: dict[int, int]) -> None:
        self.watermarks = watermarks
        self.asked: list[tuple[int, bool]] = []

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("in", p) for p in self.watermarks]

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, 40) for tp in tps]

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]:
        self.asked.append((tp.partition, cached))
        return 0, self.watermarks[tp.partition]


def test_lag_comes_from_the_cached_watermarks_and_skips_partitions_not_fetched_yet() -> None:
    consumer = LagConsumer({0: 100, 1: -1001})  # partition 1: no fetch response yet (librdkafka's -1001)
    tx = loop()
    tx._consumer = consumer  # type: ignore[assignment]
    LAG.labels("t", "in", "1").set(7)

    tx._report_lag(every_s=0)

    assert consumer.asked == [(0, True), (1, True)]  # never a request that waits behind the long-poll fetch
    assert LAG.labels("t", "in", "0")._value.get() == 60
    assert LAG.labels("t", "in", "1")._value.get() == 7  # left as it was, not set from a missing watermark


def test_a_consumer_left_out_of_its_group_ends_the_loop_and_is_left_unclosed() -> None:
    consumer = LeftOutConsumer()
    with pytest.raises(ConsumerStuckError):
        loop(consumer, rejoin_timeout_s=0.01).run(threading.Event())
    assert not consumer.closed, "a stuck client is left to the process exit, not closed"


def test_a_stopped_loop_closes_its_consumer() -> None:
    consumer, stop = LeftOutConsumer(), threading.Event()
    stop.set()
    loop(consumer).run(stop)
    assert consumer.closed
