"""Keeps a BandBook current from the compacted `thresholds.v1` topic (read from the beginning, no group).
A record it cannot apply goes to `thresholds.v1.dlq` (the same dead letter each time the topic is re-read:
its event_id is the record's own or names topic, partition and offset, and the sink keeps one)."""

from __future__ import annotations

import logging
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition

from roadwatch.errors import InvalidInputError, StackError
from roadwatch.kafka.codec import decode
from roadwatch.kafka.txloop import dead_letter_output, raw
from roadwatch.settings import KafkaSettings
from roadwatch.vision.scoring import Band, BandBook
from schemas import Thresholds

log = logging.getLogger(__name__)


class ThresholdsReader:
    """Polls `thresholds.v1` without blocking; call `poll()` between batches."""

    def __init__(self, kafka: KafkaSettings, topic: str, book: BandBook, dead_letters: Producer) -> None:
        self._book, self._dead_letters = book, dead_letters
        self._consumer = Consumer(
            kafka.client_config(
                **{
                    "group.id": "roadwatch-thresholds-reader",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                }
            )
        )
        md = self._consumer.list_topics(topic, timeout=10).topics.get(topic)
        parts = list(md.partitions) if md and md.partitions else []
        self._partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts]
        self._consumer.assign(self._partitions)

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

    def refresh(self) -> None:
        """Apply whatever updates arrived since the last call (the detector calls it between batches)."""
        self.poll()

    def poll(self, max_records: int = 500, timeout_s: float = 0.0) -> int:
        """Apply up to `max_records` threshold updates; returns how many were applied."""
        applied = 0
        for msg in self._consumer.consume(max_records, timeout_s):
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("thresholds consumer error: %s", err)
                continue
            source = (msg.key() or b"").decode()
            if msg.value() is None:
                self._book.update(source, None)
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
        out = dead_letter_output(record, "detector", exc)
        self._dead_letters.produce(out.topic, key=out.key, value=out.value)
        if self._dead_letters.flush(10) > 0:
            raise StackError(f"could not write the dead letter for {out.topic} offset {record.offset}")

    def close(self) -> None:
        self._consumer.close()
