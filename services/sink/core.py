"""The sink's decisions (pure): when a flush is due, and which of its own dead letters a previous run
already wrote."""

from __future__ import annotations

from enum import Enum

from roadwatch.iceberg.offsets import Offsets
from schemas import DeadLetter
from services.sink.settings import SinkSettings


class Flush(Enum):
    NOW = "now"
    NOT_YET = "not yet"
    NOTHING_TO_FLUSH = "nothing to flush"  # the interval passed with empty buffers: start a new one


def flush_due(buffered: int, since_last_s: float, settings: SinkSettings) -> Flush:
    """Flush once `flush_rows` records are buffered, or when the interval passed with any buffered."""
    interval_passed = since_last_s >= settings.flush_interval_ms / 1000
    if buffered >= settings.flush_rows or (interval_passed and buffered):
        return Flush.NOW
    return Flush.NOTHING_TO_FLUSH if interval_passed else Flush.NOT_YET


def not_yet_written(letter: DeadLetter, done: Offsets) -> bool:
    """Whether the `dead_letters` table's offsets (`done`) do not cover the record `letter` describes yet."""
    return done.get((letter.source_topic, letter.partition), -1) <= letter.offset
