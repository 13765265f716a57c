"""What every consumer does with what `consume()` returned: keep the records, raise on a fatal error, and
log the rest once with the service's context (end-of-partition and a topic not created yet are expected)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import TracebackType

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from roadwatch.kafka.clients import ready
from roadwatch.logs import ctx
from roadwatch.settings import KafkaSettings

log = logging.getLogger(__name__)
EXPECTED = (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART)
# Another member took this one's static group.instance.id: it will never get partitions again, so it must
# end (and its readiness with it) rather than idle as if it consumed. librdkafka hands the consumer that as
# `_FATAL` ("Static consumer fenced by other consumer..."), and the message's error has `fatal()` False.
FENCED = (KafkaError._FATAL, KafkaError._FENCED, KafkaError.FENCED_INSTANCE_ID)


def records(messages: Iterable[Message], service: str) -> list[Message]:
    """The messages that are records.

    Raises:
        KafkaException: a fatal consumer error, or this member was fenced by another with the same
            group.instance.id (the client cannot go on; the service ends and is restarted).
    """
    out = []
    for msg in messages:
        err = msg.error()
        if err is None:
            out.append(msg)
        elif err.fatal() or err.code() in FENCED:
            raise KafkaException(err)
        elif err.code() not in EXPECTED:
            log.warning("consumer error: %s", err, extra=ctx(service=service))
    return out


class TopicReader:
    """Reads every partition of one topic from its first offset, read_committed, with `assign()`: no group
    is joined and nothing is committed, so the broker keeps no trace of it. Each `read()` goes on where the
    last one stopped. Partitions come from the topic's metadata.

    Raises:
        KafkaException: the topic does not exist (or its metadata cannot be read).
        AuthenticationError: the brokers refused the login.
        StackError: the cluster did not answer within 10 s.
    """

    def __init__(self, kafka: KafkaSettings, topic: str, *, service: str = "reader") -> None:
        self.topic, self._service = topic, service
        self._consumer = ready(
            Consumer,
            kafka.client_config(
                **{
                    "group.id": "roadwatch-reader",  # required by the client; never joined, never committed
                    "isolation.level": "read_committed",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                }
            ),
            timeout_s=10,
        )
        try:
            md = self._consumer.list_topics(topic, timeout=10).topics[topic]
            if md.error is not None:
                raise KafkaException(md.error)
        except BaseException:
            self._consumer.close()
            raise
        self.partitions = sorted(md.partitions)
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in self.partitions])
        self._at_end: set[int] = set()  # partitions whose last end-of-partition no record has followed

    def read(self, *, timeout_s: float, idle_s: float = 1.0, until: int | None = None) -> list[Message]:
        """The records that arrive next: up to the end of every partition and then `idle_s` with nothing
        new, or, with `until`, until that many arrived (the ends do not count then). Returns what arrived
        by `timeout_s` if neither happened: the caller checks the count.

        Raises:
            KafkaException: a fatal consumer error.
        """
        out: list[Message] = []
        now = time.monotonic()
        deadline, last = now + timeout_s, now
        while now < deadline:
            batch = self._consumer.consume(10_000, min(0.2, deadline - now))
            for msg in batch:
                err, partition = msg.error(), msg.partition()
                if err is None:
                    self._at_end.discard(partition)
                elif err.code() == KafkaError._PARTITION_EOF and partition is not None:
                    self._at_end.add(partition)
            got = records(batch, self._service)
            out.extend(got)
            now = time.monotonic()
            last = now if got else last
            if until is not None:
                if len(out) >= until:
                    break
            elif len(self._at_end) == len(self.partitions) and now - last >= idle_s:
                break
        return out

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_to_end(
    kafka: KafkaSettings, topic: str, *, timeout_s: float, idle_s: float = 1.0, until: int | None = None
) -> list[Message]:
    """Every committed record of `topic` from its start: until every partition reported its end and then
    `idle_s` passed with nothing new (a slow start does not end it early), or, with `until`, until that many
    arrived; what arrived by `timeout_s` otherwise. One `TopicReader.read()` on a fresh reader.

    Raises:
        KafkaException: the topic does not exist, or a fatal consumer error.
    """
    with TopicReader(kafka, topic) as reader:
        return reader.read(timeout_s=timeout_s, idle_s=idle_s, until=until)
