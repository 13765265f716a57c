"""The transactional loop's handling of Kafka errors, without a broker."""

import threading
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, KafkaException

from roadwatch.errors import TransactionStuckError
from roadwatch.kafka.txloop import TransactionalLoop, bounded


def loop() -> TransactionalLoop:
    return TransactionalLoop(
        service="t",
        consumer=None,  # type: ignore[arg-type]
        producer=None,  # type: ignore[arg-type]
        topics=[],
        processor=lambda batch: [],
        batch_size=1,
        batch_timeout_s=0.1,
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
