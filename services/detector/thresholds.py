"""Keeps a BandBook current from the compacted `thresholds.v1` topic (read from the beginning, no group).
A record it cannot apply goes to `thresholds.v1.dlq` (the same dead letter each time the topic is re-read:
its event_id is the record's own or names topic, partition and offset, and the sink keeps one)."""

from __future__ import annotations

import logging
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from roadwatch.errors import InvalidInputError, StackError
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.codec import decode
from roadwatch.kafka.consume import records
from roadwatch.kafka.produce import send
from roadwatch.kafka.txloop import dead_letter_output, raw
from roadwatch.settings import KafkaSettings
from roadwatch.vision.scoring import Band, BandBook
from schemas import Thresholds

log = logging.getLogger(__name__)
SERVICE = "detector"


class ThresholdsReader:
    """Applies `thresholds.v1` to a BandBook; `poll()` between batches never blocks."""

    def __init__(
        self, consumer: Consumer, partitions: list[TopicPartition], book: BandBook, dead_letters: Producer
    ) -> None:
        self._consumer, self._partitions = consumer, partitions
        self._book, self._dead_letters = book, dead_letters

    @classmethod
    def start(cls, kafka: KafkaSettings, topic: str, book: BandBook) -> ThresholdsReader:
        """A reader assigned to every partition of `topic` from the beginning, caught up to its end."""
        consumer = Consumer(
            kafka.client_config(
                **{
                    "group.id": "roadwatch-thresholds-reader",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                }
            )
        )
        md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in (md.partitions if md else {})]
        consumer.assign(partitions)
        reader = cls(consumer, partitions, book, idempotent_producer(kafka))
        reader.catch_up()
        return reader

    def catch_up(self, timeout_s: float = 30.0) -> int:
        """Read everything already on the topic (start-up), so the first batch sees every band."""
        targets = {
            tp.partition: self._consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in self._partitions
        }
        deadline, applied = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            positions = {tp.partition: tp.offset for tp in self._consumer.position(self._partitions)}
            if all(positions[p] >= high for p, high in targets.items() if high > 0):
                return applied
            applied += self.poll(timeout_s=0.2)
        raise StackError(f"could not read {len(targets)} thresholds partitions to the end in {timeout_s}s")

    def poll(self, max_records: int = 500, timeout_s: float = 0.0) -> int:
        """Apply up to `max_records` threshold updates; returns how many were applied."""
        applied = 0
        for msg in records(self._consumer.consume(max_records, timeout_s), SERVICE):
            if msg.value() is None:
                self._book.update((msg.key() or b"").decode(), None)
                applied += 1
                continue
            try:
                t = decode(Thresholds, msg.value())
                band = Band(t.low, t.high)
            except InvalidInputError as exc:
                self._dead_letter(msg, exc)
                continue
            except ValueError as exc:  # a record whose band is impossible (Band checks 0 <= low <= high <= 1)
                self._dead_letter(msg, InvalidInputError("schema_invalid", str(exc)))
                continue
            self._book.update(t.source_id, band)
            applied += 1
        return applied

    def _dead_letter(self, msg: Message, exc: InvalidInputError) -> None:
        record = raw(msg)
        out = dead_letter_output(record, SERVICE, exc)
        send(self._dead_letters, out.topic, out.key, out.value)
        if self._dead_letters.flush(10) > 0:
            raise StackError(f"could not write the dead letter for {out.topic} offset {record.offset}")

    def close(self) -> None:
        self._consumer.close()
