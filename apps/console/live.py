"""The live feed: a `read_committed` reader of `verdicts.v1` from its end (assign(), no group, nothing
committed), fanned out to every open page over Server-Sent Events. A verdict reaches the pages as soon
as its transaction commits; a page that falls `QUEUE` verdicts behind loses the oldest (it reloads the
history from Iceberg), never the reader. The same reader follows the compacted `thresholds.v1` from its
beginning: each camera's current band, for the Cameras page."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, Message, TopicPartition

from roadwatch.errors import RoadwatchError
from roadwatch.kafka.clients import ready
from roadwatch.kafka.codec import decode_keyed
from roadwatch.kafka.consume import records
from roadwatch.logs import ctx
from roadwatch.settings import KafkaSettings
from schemas import Thresholds, Verdict

log = logging.getLogger(__name__)
QUEUE = 1000
POLL_S = 0.05  # consume() waits this long for a full batch: the feed's added latency at most


def summary(verdict: Verdict, msg: Message) -> dict[str, Any]:
    """What a feed row shows of one verdict (the same fields as a row of `/api/verdicts`)."""
    _, committed_ms = msg.timestamp()
    return {
        "event_id": verdict.event_id,
        "source_id": verdict.source_id,
        "captured_at": verdict.captured_at.isoformat(),
        "roadwork": verdict.roadwork,
        "confidence": verdict.confidence,
        "decided_by": verdict.decided_by,
        "degraded": verdict.degraded,
        "decided_at": verdict.decided_at.isoformat(),
        "kafka_ms": committed_ms,
        "kafka": f"{msg.topic()}:{msg.partition()}:{msg.offset()}",
    }


class LiveFeed:
    """Reads verdicts in a thread; `events()` is one page's stream of them."""

    def __init__(self, kafka: KafkaSettings, topic: str, thresholds_topic: str) -> None:
        self._kafka, self.topic, self._thresholds_topic = kafka, topic, thresholds_topic
        self._bands: dict[str, tuple[float, float]] = {}
        self._pages: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self.started = threading.Event()  # set once the reader sits at the topic's end
        self.error: str | None = None  # why the feed is off (Kafka refused or never answered)

    def start(self) -> LiveFeed:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def bands(self) -> dict[str, tuple[float, float]]:
        """source_id -> (low, high) of every camera with a band of its own."""
        with self._lock:
            return dict(self._bands)

    @property
    def pages(self) -> int:
        with self._lock:
            return len(self._pages)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every verdict committed from now on, until the page goes away."""
        page = (asyncio.get_running_loop(), asyncio.Queue[dict[str, Any]](QUEUE))
        with self._lock:
            self._pages.add(page)
        try:
            while True:
                yield await page[1].get()
        finally:
            with self._lock:
                self._pages.discard(page)

    def _publish(self, row: dict[str, Any]) -> None:
        with self._lock:
            pages = list(self._pages)
        for loop, queue in pages:
            loop.call_soon_threadsafe(_offer, queue, row)

    def _run(self) -> None:
        try:
            consumer = ready(
                Consumer,
                self._kafka.client_config(
                    **{
                        "group.id": "roadwatch-console",  # required by the client; never joined or committed
                        "isolation.level": "read_committed",
                        "enable.auto.commit": False,
                    }
                ),
            )
        except RoadwatchError as exc:  # the pages still serve the tables; the feed says why it is off
            self.error = str(exc)
            log.error("live feed off: %s", exc, extra=ctx(topic=self.topic))
            return
        try:
            consumer.assign(
                [
                    *_partitions(consumer, self.topic, OFFSET_END),
                    *_partitions(consumer, self._thresholds_topic, OFFSET_BEGINNING),
                ]
            )
            self.started.set()
            while not self._stop.is_set():
                for msg in records(consumer.consume(500, POLL_S), "console"):
                    self._forward(msg)
        finally:
            consumer.close()

    def _forward(self, msg: Message) -> None:
        try:
            if msg.topic() == self.topic:
                self._publish(summary(decode_keyed(Verdict, msg.key(), msg.value()), msg))
            elif msg.value() is None:  # a tombstone: the camera is back on the default band
                with self._lock:
                    self._bands.pop((msg.key() or b"").decode("utf-8", "replace"), None)
            else:
                t = decode_keyed(Thresholds, msg.key(), msg.value())
                with self._lock:
                    self._bands[t.source_id] = (t.low, t.high)
        except Exception as exc:  # noqa: BLE001 - a bad record is a service's dead letter; the feed skips it
            coords = ctx(topic=msg.topic(), partition=msg.partition(), offset=msg.offset())
            log.warning("console skips a record it cannot read: %s", exc, extra=coords)


def _partitions(consumer: Consumer, topic: str, offset: int) -> list[TopicPartition]:
    md = consumer.list_topics(topic, timeout=10).topics.get(topic)
    parts = sorted(md.partitions) if md is not None and md.error is None else []
    return [TopicPartition(topic, p, offset) for p in parts]


def _offer(queue: asyncio.Queue[dict[str, Any]], row: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()  # the page is far behind: drop its oldest, keep the newest
    queue.put_nowait(row)


def sse(row: dict[str, Any]) -> str:
    """One Server-Sent Event carrying `row` as JSON."""
    return f"event: verdict\ndata: {json.dumps(row, default=str)}\n\n"
