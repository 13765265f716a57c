"""The consume → process → produce loop with one Kafka transaction per batch, offsets included.

The processor is pure with respect to Kafka: it gets a batch of raw records and returns the records to
publish (dead letters included). The loop begins a transaction, produces them, adds the batch's offsets,
and commits; an abortable failure aborts and rewinds to the batch start, so nothing is lost or doubled for
`read_committed` readers. Fatal errors (e.g. a fenced producer) raise: the process is restarted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from roadwatch.errors import InvalidInputError, TransactionStuckError
from roadwatch.kafka.codec import encode
from roadwatch.kafka.consume import records
from roadwatch.kafka.deadletter import RawRecord, dead_letter, failure
from roadwatch.kafka.membership import Membership
from roadwatch.kafka.produce import send
from roadwatch.kafka.topics import dlq
from roadwatch.logs import ctx
from roadwatch.serving import closing_unless_stuck

log = logging.getLogger(__name__)

BATCHES = Counter("roadwatch_batches_total", "Transactions committed", ["service"])
ABORTS = Counter("roadwatch_transactions_aborted_total", "Transactions aborted and rewound", ["service"])
BATCH_SIZE = Histogram(
    "roadwatch_batch_size", "Records per batch", ["service"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
)
COMMIT_SECONDS = Histogram("roadwatch_commit_seconds", "Transaction commit latency", ["service"])
LAG = Gauge("roadwatch_consumer_lag", "Records behind the high watermark", ["service", "topic", "partition"])
DEAD_LETTERS = Counter(
    "roadwatch_dead_letters_total", "Records sent to a dead-letter topic", ["service", "reason"]
)


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes


Processor = Callable[[list[RawRecord]], list[Output]]


def raw(msg: Message) -> RawRecord:
    ts_type, ts = msg.timestamp()
    return RawRecord(
        msg.topic() or "",
        msg.partition() or 0,
        msg.offset() or 0,
        msg.key(),
        msg.value(),
        ts if ts_type else None,
    )


def batch_offsets(batch: list[RawRecord]) -> list[TopicPartition]:
    """The next offset to read for every partition in `batch`."""
    nxt: dict[tuple[str, int], int] = {}
    for r in batch:
        nxt[(r.topic, r.partition)] = max(nxt.get((r.topic, r.partition), 0), r.offset + 1)
    return [TopicPartition(t, p, o) for (t, p), o in sorted(nxt.items())]


class TransactionalLoop:
    """Runs `processor` over batches from `topics` until `stop` is set."""

    def __init__(
        self,
        *,
        service: str,
        consumer: Consumer,
        producer: Producer,
        topics: list[str],
        processor: Processor,
        batch_size: int,
        batch_timeout_s: float,
        rejoin_timeout_s: float,
        idle: Callable[[], object] | None = None,
        on_assigned: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self._consumer, self._producer = consumer, producer
        self._topics, self._processor = topics, processor
        self._batch_size, self._timeout = batch_size, batch_timeout_s
        self._idle, self._on_assigned = idle, on_assigned
        self._membership = Membership(service, rejoin_timeout_s)
        self._last_lag = 0.0

    def run(self, stop: threading.Event) -> None:
        self._membership.subscribe(self._consumer, self._topics, self._on_assign, self._on_revoke)
        with closing_unless_stuck(self._consumer.close):
            while not stop.is_set():
                self.step()

    def step(self) -> int:
        """Consume one batch and publish its outputs in one transaction; returns the records handled.

        Raises:
            ConsumerStuckError: the consumer has been out of its group for longer than `rejoin_timeout_s`.
            TransactionStuckError: a transactional call outlived its timeout.
            KafkaException: a transactional call failed neither retriably nor abortably (a fatal error).
        """
        self._membership.check(self._consumer)
        if self._idle:
            self._idle()
        msgs = self._consumer.consume(self._batch_size, self._timeout)
        batch = [raw(m) for m in records(msgs, self.service)]
        self._report_lag()
        if not batch:
            return 0
        self._publish(batch, self._processor(batch))
        return len(batch)

    def _publish(self, batch: list[RawRecord], outputs: list[Output]) -> None:
        started = time.perf_counter()
        try:
            self._producer.begin_transaction()
            for out in outputs:
                send(self._producer, out.topic, out.key, out.value)
            offsets, group = batch_offsets(batch), self._consumer.consumer_group_metadata()
            self._retrying(
                "send offsets", lambda: self._producer.send_offsets_to_transaction(offsets, group, 30), 30
            )
            self._retrying("commit", lambda: self._producer.commit_transaction(60), 60)
        except KafkaException as exc:
            err = exc.args[0]
            if not err.txn_requires_abort():
                raise
            log.warning(
                "transaction aborted, rewinding %d records: %s",
                len(batch),
                err,
                extra=ctx(service=self.service),
            )
            self._retrying("abort", lambda: self._producer.abort_transaction(30), 30)
            ABORTS.labels(self.service).inc()
            self._rewind(batch)
            return
        COMMIT_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        BATCHES.labels(self.service).inc()
        BATCH_SIZE.labels(self.service).observe(len(batch))

    def _retrying(self, what: str, call: Callable[[], None], timeout_s: float, pause_s: float = 1.0) -> None:
        """Repeat a transactional call while it fails with a retriable error (e.g. the broker is away);
        abortable and fatal errors go to the caller, and so does a call stuck past its timeout."""
        while True:
            try:
                bounded(what, call, timeout_s + STUCK_GRACE_S)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable() or err.txn_requires_abort() or err.fatal():
                    raise
                log.warning("%s failed, retrying: %s", what, err, extra=ctx(service=self.service))
                time.sleep(pause_s)

    def _rewind(self, batch: list[RawRecord]) -> None:
        """Seek back to the first record of the batch on every partition still assigned to us."""
        first: dict[tuple[str, int], int] = {}
        for r in batch:
            first[(r.topic, r.partition)] = min(first.get((r.topic, r.partition), r.offset), r.offset)
        assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        for (topic, partition), offset in first.items():
            if (topic, partition) in assigned:
                self._consumer.seek(TopicPartition(topic, partition, offset))

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions assigned: %s",
            [(p.topic, p.partition) for p in partitions],
            extra=ctx(service=self.service),
        )
        if self._on_assigned is not None:
            self._on_assigned()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions revoked: %s",
            [(p.topic, p.partition) for p in partitions],
            extra=ctx(service=self.service),
        )

    def _report_lag(self, every_s: float = 5.0) -> None:
        """Set the lag gauge from the high watermarks the last fetch responses carried (cached by the client:
        no request). An uncached query would wait on the broker connection behind the consumer's long-poll
        fetch (`fetch.wait.max.ms`, 500 ms) on every partition, on the processing thread."""
        now = time.monotonic()
        if now - self._last_lag < every_s:
            return
        self._last_lag = now
        assignment = self._consumer.assignment()
        if not assignment:
            return
        try:
            for tp in self._consumer.position(assignment):
                _, high = self._consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset >= 0 and high >= 0:  # high < 0: no fetch response for it yet
                    LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(0, high - tp.offset))
        except KafkaException as exc:  # the broker is away or rebalancing: the gauge waits for the next round
            log.warning("consumer lag not reported: %s", exc.args[0], extra=ctx(service=self.service))


STUCK_GRACE_S = 30.0


def bounded(what: str, call: Callable[[], None], timeout_s: float) -> None:
    """Run `call` (a blocking librdkafka call that takes its own timeout) and give up waiting after
    `timeout_s`: librdkafka can block in `send_offsets_to_transaction` past its timeout once the group
    coordinator went away (confluentinc/librdkafka#5456, #5511). The stuck call is left on its daemon
    thread and TransactionStuckError ends the service; a restart brings a fresh producer that fences it."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread below
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, name=f"kafka-{what}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise TransactionStuckError(f"Kafka {what} still blocked after {timeout_s:.0f}s")
    if outcome[0] is not None:
        raise outcome[0]


def dead_letter_output(record: RawRecord, service: str, exc: Exception) -> Output:
    """The dead letter for `record` on `<topic>.dlq`, counted and logged with the record's coordinates.
    `exc` is whatever processing the record raised: an InvalidInputError names its reason; anything else is
    `internal_error: <ExceptionType>`, logged with its traceback (one record never stops the service)."""
    reason, detail = failure(exc)
    letter = dead_letter(record, service=service, reason=reason, detail=detail)
    DEAD_LETTERS.labels(service, reason).inc()
    log.log(
        logging.WARNING if isinstance(exc, InvalidInputError) else logging.ERROR,
        "dead letter: %s: %s",
        reason,
        detail[:300],
        exc_info=None if isinstance(exc, InvalidInputError) else exc,
        extra=ctx(
            topic=record.topic, partition=record.partition, offset=record.offset, event_id=letter.event_id
        ),
    )
    return Output(dlq(record.topic), record.key, encode(letter))
