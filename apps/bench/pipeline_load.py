"""The load of `roadwatch bench pipeline`: the demo's images (the VTTI frames and the TraCon val split, as the
demo's three sources), sent open-loop (image i at t0 + i / rate, whatever the pipeline does) by the
producer's own event construction, each stamped when it is handed to Kafka; and one step: that load for a
while, a look at the verdicts table every `LOOK_EVERY_S` until every image of the step is visible."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaError, Message

from apps.bench.pipeline_search import Bounds, Step
from apps.bench.pipeline_services import Services
from apps.bench.sink_watch import TableWatch
from apps.cli.demo_cmd import SOURCES
from apps.evaluation.dataset import load_samples
from roadwatch.errors import RoadwatchError, StackError
from roadwatch.images.fetch import fetch
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.codec import encode
from roadwatch.kafka.produce import flush, send
from roadwatch.producer.events import build_event
from roadwatch.producer.inputs import file_uri, local_paths
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings

log = logging.getLogger(__name__)

LOOK_EVERY_S = 0.25
DRAIN_TIMEOUT_S = 120.0  # after the last send: longer, and the next step would start on a backlog
FLUSH_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Image:
    source_id: str
    uri: str
    data: bytes


def demo_images(data: Path, settings: ProducerSettings) -> list[Image]:
    """What `roadwatch demo` sends, read once (through the producer's allow-list and limits): VTTI frames as
    the first source, TraCon val's even and odd images as the other two; shuffled with a fixed seed, so
    that every stretch of a step has the demo's mix of easy and escalated images."""
    tracon = [s.path for s in load_samples(data / "tracon", "val")]
    named = [
        *((SOURCES[0], p) for p in local_paths([str(data / "vtti-workzone")])),
        *((SOURCES[1], p) for p in tracon[::2]),
        *((SOURCES[2], p) for p in tracon[1::2]),
    ]
    policy = settings.fetch_policy()
    images = [Image(source, file_uri(p), fetch(file_uri(p), policy).data) for source, p in named]
    random.Random(20).shuffle(images)
    return images


class Sender:
    """The producer of a bench run: image `i` (of the list, cyclically) as a fresh `ImageEvent` built by the
    producer's `build_event` (validated, hashed, a new event id), captured now, keyed by its source."""

    def __init__(self, kafka: KafkaSettings, images: list[Image], settings: ProducerSettings) -> None:
        if not images:
            raise RoadwatchError("bench pipeline: no images to send")
        self.images, self.settings, self.limits = images, settings, settings.limits()
        self.producer = idempotent_producer(kafka, **{"linger.ms": settings.linger_ms})
        self.errors: list[str] = []

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err}")

    def send(self, i: int) -> str:
        image = self.images[i % len(self.images)]
        event = build_event(
            image.data,
            uri=image.uri,
            source_id=image.source_id,
            captured_at=datetime.now(UTC),
            limits=self.limits,
            inline_max_bytes=self.settings.inline_max_bytes,
        )
        send(self.producer, self.settings.topic, image.source_id.encode(), encode(event), self._delivered)
        return event.event_id

    def confirm(self) -> None:
        """Every image sent so far acknowledged.

        Raises:
            StackError: Kafka refused one or did not acknowledge all within FLUSH_TIMEOUT_S.
        """
        remaining = flush(self.producer, FLUSH_TIMEOUT_S)
        if self.errors or remaining:
            raise StackError(f"bench pipeline: {remaining} images unacknowledged, refused: {self.errors[:3]}")


class OpenLoop(threading.Thread):
    """Sends image `first + i` at t0 + i / `rate` for `duration_s` (open loop: completions do not pace it)
    until done or `cut` is set; `sent` holds (event_id, time.time() at the send) in order."""

    def __init__(self, sender: Sender, rate: float, duration_s: float, first: int) -> None:
        super().__init__(daemon=True, name="bench-pipeline-load")
        self.sender, self.rate, self.first = sender, rate, first
        self.count = max(1, round(rate * duration_s))
        self.sent: list[tuple[str, float]] = []
        self.cut = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._send()
        except Exception as exc:  # noqa: BLE001 - handed over: the step re-raises it
            self.error = exc

    def _send(self) -> None:
        t0 = time.monotonic()
        for i in range(self.count):
            if self.cut.wait(max(0.0, t0 + i / self.rate - time.monotonic())):
                return
            at = time.time()
            self.sent.append((self.sender.send(self.first + i), at))


def run_step(
    sender: Sender,
    watch: TableWatch,
    services: Services,
    rate: float,
    duration_s: float,
    first: int,
    bounds: Bounds,
) -> tuple[Step, list[str]]:
    """`rate` images/s for `duration_s` (cut short once more than `bounds.max_outstanding` are sent but not
    visible), then looks until every image of the step is visible; the step and its event ids (the
    services' CPU from its start to the last image visible).

    Raises:
        StackError: a service exited, the images were not all visible DRAIN_TIMEOUT_S after the last send,
            or Kafka did not take them.
    """
    cpu_before, t0 = services.cpu(), time.time()
    load = OpenLoop(sender, rate, duration_s, first)
    load.start()
    drain_deadline: float | None = None
    while True:
        watch.look()
        services.check()
        outstanding = sum(1 for eid, _ in list(load.sent) if eid not in watch.first_seen)
        if load.is_alive() and outstanding > bounds.max_outstanding(rate):
            log.info("  %d images outstanding at %.2f images/s: cutting the step short", outstanding, rate)
            load.cut.set()
        if not load.is_alive():
            if load.error is not None:
                raise load.error
            if outstanding == 0:
                break
            drain_deadline = drain_deadline or time.monotonic() + DRAIN_TIMEOUT_S
            if time.monotonic() > drain_deadline:
                raise StackError(
                    f"bench pipeline: {outstanding} images not in Iceberg {DRAIN_TIMEOUT_S:.0f} s after the"
                    " last send"
                )
        time.sleep(LOOK_EVERY_S)
    cpu_after = services.cpu()
    sender.confirm()
    seen = watch.first_seen
    step = Step(
        rate=rate,
        sent_at=[at - t0 for _, at in load.sent],
        seen_at=[seen[eid] - t0 for eid, _ in load.sent],
        cut=load.cut.is_set(),
        cpu_s={name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after},
    )
    return step, [eid for eid, _ in load.sent]
