"""Keeps a BandBook current from the compacted `thresholds.v1` topic, read from the beginning by assign()
at every start. A record it cannot apply goes to `thresholds.v1.dlq` once: the reader commits, in its group
`roadwatch-thresholds-reader`, the offset after the last record it dead-lettered, and on a later start
(this detector's or any other's) re-reads the records below it without writing their dead letters again.
A crash between a dead letter's delivery and that commit repeats the dead letter on the topic, not in the
table: its event_id is the record's own or names topic, partition and offset, and the sink keeps one."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from roadwatch.errors import InvalidInputError, StackError
from roadwatch.kafka.clients import idempotent_producer, ready
from roadwatch.kafka.codec import decode_keyed
from roadwatch.kafka.consume import records
from roadwatch.kafka.deadletter import RawRecord
from roadwatch.kafka.produce import send
from roadwatch.kafka.txloop import dead_letter_output, raw
from roadwatch.settings import KafkaSettings
from roadwatch.vision.scoring import Applied, Band, BandBook
from schemas import DEFAULT_BAND_KEY, Thresholds
from schemas.records import SOURCE_ID

log = logging.getLogger(__name__)
SERVICE = "detector"
GROUP = "roadwatch-thresholds-reader"
COORDINATOR_MOVING = (
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._TIMED_OUT,
)


class ThresholdsReader:
    """Applies `thresholds.v1` to a BandBook; `poll()` between batches never blocks."""

    def __init__(
        self, consumer: Consumer, partitions: list[TopicPartition], book: BandBook, dead_letters: Producer
    ) -> None:
        self._consumer, self._partitions = consumer, partitions
        self._book, self._dead_letters = book, dead_letters
        # partition -> the first offset whose dead letter is not yet written (below it: written before)
        self._lettered = {tp.partition: max(tp.offset, 0) for tp in _committed(consumer, partitions)}

    @classmethod
    def start(cls, kafka: KafkaSettings, topic: str, book: BandBook) -> ThresholdsReader:
        """A reader assigned to every partition of `topic` from the beginning, caught up to its end."""
        consumer = ready(
            Consumer,
            kafka.client_config(
                **{
                    "group.id": GROUP,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                }
            ),
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
        """Apply up to `max_records` threshold updates; returns how many were applied. A record it cannot
        apply, whatever it raises, is a dead letter."""
        applied, lettered = 0, dict[int, int]()
        for msg in records(self._consumer.consume(max_records, timeout_s), SERVICE):
            try:
                update = _update_of(msg.key(), msg.value())
            except Exception as exc:  # noqa: BLE001 - the record becomes a dead letter with the reason
                record = raw(msg)
                if record.offset >= self._lettered.get(record.partition, 0):  # else written before
                    self._dead_letter(record, exc)
                    lettered[record.partition] = record.offset + 1
                continue
            update.to(self._book)
            applied += 1
        if lettered:
            self._remember(lettered)
        return applied

    def _dead_letter(self, record: RawRecord, exc: Exception) -> None:
        out = dead_letter_output(record, SERVICE, exc)
        send(self._dead_letters, out.topic, out.key, out.value)

    def _remember(self, lettered: dict[int, int]) -> None:
        """Deliver the dead letters just written, then commit past them (in this order: at least once)."""
        if self._dead_letters.flush(10) > 0:
            where = ", ".join(f"partition {p} below offset {o}" for p, o in sorted(lettered.items()))
            raise StackError(f"could not write the thresholds dead letters of {where}")
        topic = self._partitions[0].topic
        self._consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in lettered.items()], asynchronous=False
        )
        self._lettered.update(lettered)

    def close(self) -> None:
        self._consumer.close()


def _committed(
    consumer: Consumer, partitions: list[TopicPartition], timeout_s: float = 60.0
) -> list[TopicPartition]:
    """The group's committed offsets of `partitions`, asked again while the group's coordinator is still
    being chosen or loaded (NOT_COORDINATOR and the like: the first use of a group on a fresh broker).

    Raises:
        StackError: no answer but those within `timeout_s`.
    """
    if not partitions:
        return []
    deadline, wait = time.monotonic() + timeout_s, 0.1
    while True:
        try:
            return list(consumer.committed(partitions, timeout=10))
        except KafkaException as exc:
            err = exc.args[0]
            if not (err.retriable() or err.code() in COORDINATOR_MOVING):
                raise
            if time.monotonic() > deadline:
                raise StackError(f"thresholds reader: no committed offsets in {timeout_s:g}s: {err}") from exc
        time.sleep(wait)
        wait = min(2.0, wait * 2)


@dataclass(frozen=True)
class Update:
    """What one record does to the BandBook: a source's adaptive or applied band, the applied default, or
    (band None, a tombstone) a return to the default."""

    source_id: str
    band: Band | None
    applied: bool = False
    drift: float | None = None

    def to(self, book: BandBook) -> None:
        applied = Applied(self.band, self.drift) if self.band is not None and self.applied else None
        if self.source_id == DEFAULT_BAND_KEY:
            book.apply_default(applied)
        elif applied is not None:
            book.apply(self.source_id, applied)
        else:
            book.update(self.source_id, self.band)


def _update_of(key: bytes | None, value: bytes | None) -> Update:
    """The update one record makes; a tombstone (no value) returns the source to the default band (the
    default's own tombstone, to the configured default).

    Raises:
        InvalidInputError: `bad_key` (a tombstone whose key names no source), `undecodable`,
            `schema_invalid` (also an impossible band, or a default band that is not applied),
            `key_mismatch`.
    """
    if value is None:
        source = key.decode("utf-8", "replace") if key else ""
        if not key or not SOURCE_ID.fullmatch(source):
            shown = (key or b"")[:64]
            raise InvalidInputError("bad_key", f"a tombstone's key must be a source_id, got {shown!r}")
        return Update(source, None)
    t = decode_keyed(Thresholds, key, value)
    if t.scope == "default" and t.origin != "applied":
        raise InvalidInputError("schema_invalid", "a default band is applied, never adaptive")
    try:
        return Update(t.source_id, Band(t.low, t.high), t.origin == "applied", t.drift)
    except ValueError as exc:  # Band checks 0 <= low <= high <= 1
        raise InvalidInputError("schema_invalid", str(exc)) from exc
