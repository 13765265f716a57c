"""The sink loop: consume, buffer per table, flush on rows or interval, resume from the tables' offsets.

Commit order per flush: `dead_letters` first (it also records the offsets of records the sink itself could
not read, so a replay skips them), then the other tables. Kafka group offsets are committed last, for lag
reporting only: on (re)assignment the sink seeks to the offsets stored in the tables.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pyarrow as pa
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from roadwatch.kafka.clients import consumer as build_consumer
from roadwatch.kafka.deadletter import RawRecord
from roadwatch.kafka.txloop import raw
from roadwatch.logs import ctx
from roadwatch.observability import Health, serve
from roadwatch.settings import KafkaSettings
from schemas import DeadLetter
from services.sink.catalog import ensure_tables, open_catalog
from services.sink.convert import Converted, dead_letter_rows, to_arrow
from services.sink.offsets import Offsets
from services.sink.settings import CatalogSettings, SinkSettings
from services.sink.writer import StaleWriterError, TableWriter

log = logging.getLogger(__name__)
SERVICE = "sink"


def _span(batch: list[RawRecord]) -> tuple[Offsets, Offsets]:
    """First offset and next offset per partition (a buffer holds each partition's records in order)."""
    start: Offsets = {}
    end: Offsets = {}
    for r in batch:
        tp = (r.topic, r.partition)
        if tp not in start:
            start[tp] = r.offset
        end[tp] = r.offset + 1
    return start, end


class Sink:
    """Buffers records per table and commits them to Iceberg with their offsets."""

    def __init__(self, settings: SinkSettings, writers: dict[str, TableWriter], consumer: Consumer) -> None:
        self.settings, self.writers, self.consumer = settings, writers, consumer
        self.buffers: dict[str, list[RawRecord]] = defaultdict(list)
        self._table_of: dict[str, str] = {}
        self._buffered = 0
        self._last_flush = time.monotonic()

    def topics(self) -> list[str]:
        s = self.settings
        return [s.detections_topic, s.verdicts_topic, s.source_state_topic, s.dlq_pattern]

    def resume_offset(self, topic: str, partition: int) -> int:
        table = self.settings.table_for(topic)
        return self.writers[table].committed.get((topic, partition), OFFSET_BEGINNING)

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            tp.offset = self.resume_offset(tp.topic, tp.partition)
        log.info(
            "assigned, resuming from the tables' offsets: %s",
            [(tp.topic, tp.partition, tp.offset) for tp in partitions],
            extra=ctx(service=SERVICE),
        )
        consumer.assign(partitions)

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.flush()

    def run(self, stop: threading.Event, health: Health | None = None) -> None:
        self.subscribe(health)
        try:
            while not stop.is_set():
                self.step()
            self.flush()
        finally:
            self.consumer.close()

    def subscribe(self, health: Health | None = None) -> None:
        """Subscribe; on assignment, seek to the tables' offsets and report ready."""
        self.consumer.subscribe(self.topics(), on_assign=self._assigned(health), on_revoke=self.on_revoke)

    def _assigned(self, health: Health | None) -> Callable[[Consumer, list[TopicPartition]], None]:
        def callback(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self.on_assign(consumer, partitions)
            if health is not None:
                health.set_ready()

        return callback

    def step(self) -> None:
        for msg in self.consumer.consume(self.settings.max_poll_records, 0.2):
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise KafkaException(err)
                if err.code() not in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    log.warning("consumer error: %s", err, extra=ctx(service=SERVICE))
                continue
            record = raw(msg)
            table = self._table_of.get(record.topic)
            if table is None:
                table = self._table_of[record.topic] = self.settings.table_for(record.topic)
            self.buffers[table].append(record)
            self._buffered += 1
        due = time.monotonic() - self._last_flush >= self.settings.flush_interval_ms / 1000
        if self._buffered >= self.settings.flush_rows or (due and self._buffered):
            self.flush()
        elif due:
            self._last_flush = time.monotonic()

    def flush(self) -> None:
        """Commit every buffered record; on a stale-writer fence, drop the buffers and re-seek."""
        if not self._buffered:
            return
        try:
            self._flush()
        except StaleWriterError as exc:
            log.warning("fenced: %s; dropping buffers and re-seeking", exc, extra=ctx(service=SERVICE))
            self._reseek()
        self.buffers.clear()
        self._buffered = 0
        self._last_flush = time.monotonic()

    def _flush(self) -> None:
        converted = {
            name: to_arrow(name, self.writers[name].arrow_schema, batch)
            for name, batch in self.buffers.items()
            if batch
        }
        letters, letter_records = self._own_dead_letters(converted)
        dl_batch = self.buffers.get("dead_letters", []) + letter_records
        if dl_batch:  # first: it also fences replays of the records the sink could not read
            parts = [converted["dead_letters"].table] if "dead_letters" in converted else []
            if letter_records:
                parts.append(
                    dead_letter_rows(self.writers["dead_letters"].arrow_schema, letters, letter_records)
                )
            self._commit("dead_letters", pa.concat_tables(parts), dl_batch)
        for name, conv in converted.items():
            if name != "dead_letters":
                self._commit(name, conv.table, self.buffers[name])
        _, end = _span([r for batch in self.buffers.values() for r in batch])
        self.consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in end.items()], asynchronous=True
        )

    def _own_dead_letters(self, converted: dict[str, Converted]) -> tuple[list[DeadLetter], list[RawRecord]]:
        """Dead letters for records the sink could not read, minus those a previous run already wrote."""
        done = self.writers["dead_letters"].committed
        letters, records = [], []
        for conv in converted.values():
            for record, letter in zip(conv.dead, conv.dead_letters, strict=True):
                if done.get((record.topic, record.partition), -1) <= record.offset:
                    records.append(record)
                    letters.append(letter)
        return letters, records

    def _commit(self, name: str, rows: pa.Table, batch: list[RawRecord]) -> None:
        if rows.num_rows:
            start, end = _span(batch)
            self.writers[name].commit(rows, start, end)

    def _reseek(self) -> None:
        for writer in self.writers.values():
            writer.reload()
        for tp in self.consumer.assignment():
            self.consumer.seek(
                TopicPartition(tp.topic, tp.partition, self.resume_offset(tp.topic, tp.partition))
            )


def build(settings: SinkSettings, catalog: CatalogSettings, kafka: KafkaSettings) -> Sink:
    tables = ensure_tables(open_catalog(catalog), catalog.namespace)
    writers = {name: TableWriter(t, settings.commit_retries) for name, t in tables.items()}
    consumer = build_consumer(
        kafka,
        settings.group_id,
        **{
            "topic.metadata.refresh.interval.ms": 5000,
            "group.instance.id": f"{settings.group_id}-{settings.instance_id}",
        },
    )
    return Sink(settings, writers, consumer)


def run(
    settings: SinkSettings, catalog: CatalogSettings, kafka: KafkaSettings, stop: threading.Event
) -> None:
    health = Health(SERVICE)
    server = serve(health, settings.metrics_port)
    sink = build(settings, catalog, kafka)
    try:
        sink.run(stop, health)
    finally:
        health.set_ready(False)
        if server is not None:
            server.shutdown()
