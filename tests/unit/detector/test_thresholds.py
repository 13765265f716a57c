"""The thresholds reader without a broker: bands applied, tombstones reset, bad records dead-lettered once
(a reader started later does not write them again)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from roadwatch.errors import StackError
from roadwatch.vision.scoring import DEFAULT_BAND, Band, BandBook
from schemas import DEFAULT_BAND_KEY, DeadLetter, Thresholds
from services.detector.thresholds import ThresholdsReader

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class FakeMessage:
    key_: bytes | None
    value_: bytes | None
    offset_: int
    topic_: str = "thresholds.v1"

    def error(self) -> None:
        return None

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.offset_

    def timestamp(self) -> tuple[int, int]:
        return (1, int(T0.timestamp() * 1000))


@dataclass
class FakeConsumer:
    """Its group's committed offsets live in `group` (partition -> offset), shared by the readers given it;
    the first `moving` asks for them fail as while the group's coordinator is being chosen."""

    pending: list[FakeMessage]
    group: dict[int, int] = field(default_factory=dict)
    moving: int = 0

    def consume(self, n: int, timeout: float) -> list[FakeMessage]:
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        if self.moving > 0:
            self.moving -= 1
            raise KafkaException(KafkaError(KafkaError.NOT_COORDINATOR, "Broker: Not coordinator"))
        return [
            TopicPartition(tp.topic, tp.partition, self.group.get(tp.partition, -1001)) for tp in partitions
        ]

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.group.update({tp.partition: tp.offset for tp in offsets})


@dataclass
class FakeProducer:
    undelivered: int = 0
    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)

    def produce(self, topic: str, key: bytes | None, value: bytes, on_delivery: Any = None) -> None:
        self.sent.append((topic, key, value))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return self.undelivered


def band(source: str, low: float, high: float, **applied: Any) -> bytes:
    t = Thresholds(
        event_id=f"b-{source}",
        source_id=source,
        captured_at=T0,
        low=low,
        high=high,
        evidence=5,
        updated_at=T0,
        **applied,
    )
    return t.model_dump_json().encode()


def applied(source: str, low: float, high: float, drift: float) -> bytes:
    scope = "default" if source == DEFAULT_BAND_KEY else "source"
    return band(source, low, high, origin="applied", scope=scope, drift=drift)


def reader(
    messages: list[FakeMessage], producer: FakeProducer, group: dict[int, int] | None = None
) -> tuple[ThresholdsReader, BandBook]:
    book, consumer = BandBook(DEFAULT_BAND), FakeConsumer(messages, {} if group is None else group)
    partitions = [TopicPartition("thresholds.v1", 0)]
    return ThresholdsReader(consumer, partitions, book, producer), book  # type: ignore[arg-type]


def test_bands_apply_and_a_tombstone_resets_to_the_default() -> None:
    r, book = reader(
        [
            FakeMessage(b"cam-1", band("cam-1", 0.1, 0.6), 0),
            FakeMessage(b"cam-2", band("cam-2", 0.2, 0.5), 1),
            FakeMessage(b"cam-2", None, 2),
        ],
        FakeProducer(),
    )
    assert r.poll() == 3
    assert book.for_source("cam-1") == Band(0.1, 0.6)
    assert book.for_source("cam-2") == DEFAULT_BAND


def test_each_bad_record_becomes_one_dead_letter_with_its_reason() -> None:
    producer = FakeProducer()
    r, book = reader(
        [
            FakeMessage(b"cam-1", b'{"not json', 0),
            FakeMessage(b"cam-1", band("cam-1", 0.7, 0.2), 1),  # low > high: impossible
            FakeMessage(b"cam-1", band("cam-1", 0.1, 0.6), 2),
        ],
        producer,
    )
    assert r.poll() == 1
    assert book.for_source("cam-1") == Band(0.1, 0.6)
    letters = [DeadLetter.model_validate_json(v) for _, _, v in producer.sent]
    assert [t for t, _, _ in producer.sent] == ["thresholds.v1.dlq"] * 2
    assert [(d.reason, d.offset, d.service) for d in letters] == [
        ("undecodable", 0, "detector"),
        ("schema_invalid", 1, "detector"),
    ]
    assert letters[0].event_id == "dlq:thresholds.v1:0:0"  # the same id on every re-read
    assert letters[1].event_id == "b-cam-1"


def test_a_dead_letter_that_cannot_be_written_stops_the_reader() -> None:
    r, _ = reader([FakeMessage(b"cam-1", b"junk", 5)], FakeProducer(undelivered=1))
    with pytest.raises(StackError, match="partition 0 below offset 6"):
        r.poll()


def test_a_later_reader_does_not_write_the_dead_letters_again_but_writes_new_ones() -> None:
    topic = [FakeMessage(b"cam-1", b"junk", 0), FakeMessage(b"cam-1", band("cam-1", 0.1, 0.6), 1)]
    group: dict[int, int] = {}
    first = FakeProducer()
    assert reader(list(topic), first, group)[0].poll() == 1
    assert len(first.sent) == 1 and group == {0: 1}
    again = FakeProducer()
    r, book = reader([*topic, FakeMessage(b"cam-1", b"{", 2)], again, group)  # a restart re-reads it all
    assert r.poll() == 1 and book.for_source("cam-1") == Band(0.1, 0.6)  # the band still applies
    assert [DeadLetter.model_validate_json(v).offset for _, _, v in again.sent] == [2]
    assert group == {0: 3}


def test_nothing_is_committed_when_no_dead_letter_was_written() -> None:
    group: dict[int, int] = {}
    r, _ = reader([FakeMessage(b"cam-1", band("cam-1", 0.1, 0.6), 0)], FakeProducer(), group)
    assert r.poll() == 1 and group == {}


def test_the_committed_offsets_are_asked_again_while_the_coordinator_moves() -> None:
    consumer = FakeConsumer([FakeMessage(b"cam-1", b"junk", 0)], {0: 1}, moving=2)
    r = ThresholdsReader(
        consumer, [TopicPartition("thresholds.v1", 0)], BandBook(DEFAULT_BAND), FakeProducer()
    )  # type: ignore[arg-type]
    assert consumer.moving == 0
    assert r.poll() == 0  # offset 0 was dead-lettered before: not again


def test_an_applied_default_holds_for_new_sources_and_bounds_adaptive_bands_in_any_order() -> None:
    r, book = reader(
        [
            FakeMessage(b"cam-1", band("cam-1", 0.1, 0.6), 0),  # adaptive, read before the default
            FakeMessage(DEFAULT_BAND_KEY.encode(), applied(DEFAULT_BAND_KEY, 0.3, 0.9, 0.05), 1),
            FakeMessage(b"cam-2", band("cam-2", 0.32, 0.88), 2),  # within the drift: as published
        ],
        FakeProducer(),
    )
    assert r.poll() == 3
    assert book.default == Band(0.3, 0.9) and book.for_source("new-cam") == Band(0.3, 0.9)
    assert book.for_source("cam-1") == Band(0.25, 0.85)  # held to 0.3 +- 0.05 and 0.9 +- 0.05
    assert book.for_source("cam-2") == Band(0.32, 0.88)


def test_a_source_applied_band_is_its_start_and_its_tombstones_reset_each_scope() -> None:
    r, book = reader(
        [
            FakeMessage(b"cam-1", band("cam-1", 0.1, 0.6), 0),
            FakeMessage(b"cam-1", applied("cam-1", 0.2, 0.7, 0.0), 1),
            FakeMessage(DEFAULT_BAND_KEY.encode(), applied(DEFAULT_BAND_KEY, 0.3, 0.9, 0.0), 2),
        ],
        FakeProducer(),
    )
    assert r.poll() == 3
    assert book.for_source("cam-1") == Band(0.2, 0.7)  # its own applied band, not the default's
    r._consumer.pending = [  # type: ignore[attr-defined]
        FakeMessage(b"cam-1", band("cam-1", 0.05, 0.95), 3),  # drift 0: the applied band holds
        FakeMessage(DEFAULT_BAND_KEY.encode(), None, 4),
    ]
    assert r.poll() == 2
    assert book.for_source("cam-1") == Band(0.2, 0.7) and book.default == DEFAULT_BAND
    r._consumer.pending = [FakeMessage(b"cam-1", None, 5)]  # type: ignore[attr-defined]
    assert r.poll() == 1 and book.for_source("cam-1") == DEFAULT_BAND


def test_an_adaptive_default_band_is_a_dead_letter() -> None:
    producer = FakeProducer()
    adaptive = band(DEFAULT_BAND_KEY, 0.3, 0.9, scope="default")
    r, book = reader([FakeMessage(DEFAULT_BAND_KEY.encode(), adaptive, 0)], producer)
    assert r.poll() == 0 and book.default == DEFAULT_BAND
    assert DeadLetter.model_validate_json(producer.sent[0][2]).reason == "schema_invalid"


def test_a_default_band_needs_the_default_key() -> None:
    with pytest.raises(ValueError, match="default band"):
        band("cam-1", 0.3, 0.9, origin="applied", scope="default")
    with pytest.raises(ValueError, match="default band"):
        band(DEFAULT_BAND_KEY, 0.3, 0.9)
