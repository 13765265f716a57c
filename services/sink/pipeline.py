"""The sink's pipeline: consume, buffer per table, flush on rows, bytes or freshness, resume from the tables'
offsets.

Three stages overlap: the loop consumes; each consumed batch is converted to Arrow on a converter thread as
soon as it arrives; a flush hands the converted chunks to one commit thread, which commits them while the
loop consumes on. One flush is in flight at a time (the next waits for it), so commits stay in consumption
order. Commit order per flush: `dead_letters` first (it also records the offsets of records the sink itself
could not read, so a replay skips them), then the other tables. Kafka group offsets are committed last, for
lag reporting only: on (re)assignment the sink seeks to the offsets stored in the tables.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from roadwatch.iceberg.offsets import Offsets, span
from roadwatch.inflight import InFlight
from roadwatch.kafka.consume import records
from roadwatch.kafka.membership import Membership
from roadwatch.logs import ctx
from roadwatch.serving import Health, closing_unless_stuck
from schemas import DeadLetter
from services.sink.convert import Converted, coordinates, dead_letter_rows, merge, to_arrow
from services.sink.core import Flush, flush_due, not_yet_written
from services.sink.settings import SinkSettings
from services.sink.writer import StaleWriterError, TableWriter

log = logging.getLogger(__name__)
SERVICE = "sink"


class Sink:
    """Buffers records per table and commits them to Iceberg with their offsets."""

    def __init__(
        self,
        settings: SinkSettings,
        writers: dict[str, TableWriter],
        consumer: Consumer,
        rejoin_timeout_s: float,
    ) -> None:
        self.settings, self.writers, self.consumer = settings, writers, consumer
        self._membership = Membership(SERVICE, rejoin_timeout_s)
        self.buffers: dict[str, list[Future[Converted]]] = defaultdict(list)  # chunks, in consumption order
        self._table_of: dict[str, str] = {}
        self._buffered = 0
        self._buffered_bytes = 0
        self._last_flush = time.monotonic()
        self._converter = ThreadPoolExecutor(settings.convert_workers, thread_name_prefix="sink-convert")
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-commit")
        self._inflight: Future[Offsets] | None = None
        self.commits = InFlight("Iceberg commit")  # the flush on the commit thread, for readiness

    @property
    def buffered(self) -> int:
        """Records consumed and not yet handed to the commit thread."""
        return self._buffered

    def topics(self) -> list[str]:
        return self.settings.subscriptions()

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
        self.flush(wait=True)

    def run(self, stop: threading.Event, health: Health | None = None) -> None:
        if health is not None:
            for outage in {id(w.outage): w.outage for w in self.writers.values()}.values():
                health.require(outage.reason)
            # a call that neither returns nor fails (an outage the clients do not see as one) still shows
            health.require(self.commits.stalled_after(self.settings.commit_stuck_s))
        self.subscribe(health)
        with closing_unless_stuck(self.close):
            while not stop.is_set():
                self.step()
            self.flush(wait=True)

    def close(self) -> None:
        """Let a commit in flight finish, then leave the group."""
        self._committer.shutdown(wait=True)
        self._converter.shutdown(wait=True, cancel_futures=True)
        self.consumer.close()

    def subscribe(self, health: Health | None = None) -> None:
        """Subscribe; on assignment, seek to the tables' offsets and report ready."""
        self._membership.subscribe(self.consumer, self.topics(), self._assigned(health), self.on_revoke)

    def _assigned(self, health: Health | None) -> Callable[[Consumer, list[TopicPartition]], None]:
        def callback(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self.on_assign(consumer, partitions)
            if health is not None:
                health.set_ready()

        return callback

    def step(self) -> None:
        """Consume what is queued, hand it to the converters, and flush when due.

        Raises:
            ConsumerStuckError: the consumer has been out of its group for longer than `rejoin_timeout_s`.
        """
        self._membership.check(self.consumer)
        chunks: dict[str, list[Message]] = defaultdict(list)
        n = self.settings.max_poll_records
        # A batch consume waits for a full batch until its timeout: take what is queued; block only on none.
        for msg in records(self.consumer.consume(n, 0) or self.consumer.consume(n, 0.2), SERVICE):
            topic = msg.topic() or ""
            table = self._table_of.get(topic)
            if table is None:
                table = self._table_of[topic] = self.settings.table_for(topic)
            chunks[table].append(msg)
        for table, chunk in chunks.items():
            schema = self.writers[table].arrow_schema
            self.buffers[table].append(self._converter.submit(to_arrow, table, schema, chunk))
            self._buffered += len(chunk)
            self._buffered_bytes += sum(len(m.value() or b"") for m in chunk)
        if self._inflight is not None and self._inflight.done():
            self._settle()
        since = time.monotonic() - self._last_flush
        due = flush_due(self._buffered, self._buffered_bytes, since, self.settings)
        if due is Flush.NOW:
            self.flush()
        elif due is Flush.NOTHING_TO_FLUSH:
            self._last_flush = time.monotonic()

    def flush(self, wait: bool = False) -> None:
        """Hand the buffers to the commit thread once the previous flush has landed (`wait`: this one too)."""
        self._settle()
        if self._buffered:
            pending, self.buffers, self._buffered = self.buffers, defaultdict(list), 0
            self._buffered_bytes = 0
            self._inflight = self._committer.submit(self._flush, pending)
        self._last_flush = time.monotonic()
        if wait:
            self._settle()

    def _settle(self) -> None:
        """Wait for the flush in flight and commit its Kafka offsets. If another writer fenced it, drop the
        buffers (they follow the fenced records) and re-seek to the tables' offsets."""
        if self._inflight is None:
            return
        future, self._inflight = self._inflight, None
        try:
            end = future.result()
        except StaleWriterError as exc:
            log.warning("fenced: %s; dropping buffers and re-seeking", exc, extra=ctx(service=SERVICE))
            self.buffers.clear()
            self._buffered = self._buffered_bytes = 0
            self._reseek()
            return
        self.consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in end.items()], asynchronous=True
        )

    def _flush(self, buffers: dict[str, list[Future[Converted]]]) -> Offsets:
        """Commit `buffers` (on the commit thread); the next offset of each partition in them."""
        with self.commits.track():
            return self._commit_all(buffers)

    def _commit_all(self, buffers: dict[str, list[Future[Converted]]]) -> Offsets:
        """The flush itself: dead letters first, then each table."""
        converted = {name: merge([c.result() for c in chunks]) for name, chunks in buffers.items() if chunks}
        letters, letter_records = self._own_dead_letters(converted)
        parts = [(c.table, c.coordinates) for n, c in converted.items() if n == "dead_letters"]
        if letter_records:
            coords = coordinates(letter_records)
            parts.append(
                (dead_letter_rows(self.writers["dead_letters"].arrow_schema, letters, coords), coords)
            )
        if parts:  # first: it also fences replays of the records the sink could not read
            self._commit(
                "dead_letters", pa.concat_tables(t for t, _ in parts), pa.concat_tables(c for _, c in parts)
            )
        for name, conv in converted.items():
            if name != "dead_letters":
                self._commit(name, conv.table, conv.coordinates)
        _, end = span(pa.concat_tables(c.coordinates for c in converted.values()))
        return end

    def _own_dead_letters(self, converted: dict[str, Converted]) -> tuple[list[DeadLetter], list[Message]]:
        """Dead letters for records the sink could not read, minus those a previous run already wrote."""
        done = self.writers["dead_letters"].committed
        letters, messages = [], []
        for conv in converted.values():
            for message, letter in zip(conv.dead, conv.dead_letters, strict=True):
                if not_yet_written(letter, done):
                    messages.append(message)
                    letters.append(letter)
        return letters, messages

    def _commit(self, name: str, rows: pa.Table, coords: pa.Table) -> None:
        if rows.num_rows:
            start, end = span(coords)
            self.writers[name].commit(rows, start, end)

    def _reseek(self) -> None:
        for writer in self.writers.values():
            writer.reload()
        for tp in self.consumer.assignment():
            self.consumer.seek(
                TopicPartition(tp.topic, tp.partition, self.resume_offset(tp.topic, tp.partition))
            )
