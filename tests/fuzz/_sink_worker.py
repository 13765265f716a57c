"""The sink's conversion run in a worker process for tests/fuzz: a crash in native code there (pyarrow's
JSON reader) must fail one property with its input, not kill the whole test run. Imports only the sink."""

from __future__ import annotations

from typing import NamedTuple

from confluent_kafka import Message

from schemas.tables import table_def
from services.sink.convert import to_arrow

TOPICS = {
    "detections": "detections.v1",
    "verdicts": "verdicts.v1",
    "source_state": "source_state.v1",
    "dead_letters": "images.v1.dlq",
    "labels": "labels.v1",
    "shadow_detections": "detections.shadow.v1",
    "shadow_opinions": "opinions.shadow.v1",
}
SCHEMAS = {t: table_def(t).schema.as_arrow() for t in TOPICS}


class Summary(NamedTuple):
    """What the properties check of a conversion (a `Converted` holds Messages, which do not pickle)."""

    rows: int
    dead: int
    dead_letters: int
    schema_ok: bool
    row_offsets: list[int]


def messages(table: str, pairs: list[tuple[bytes | None, bytes | None]]) -> list[Message]:
    """The batch as the sink's consumer hands it: partition 0, offsets 0, 1, ..."""
    return [
        Message(topic=TOPICS[table], partition=0, offset=i, key=key, value=value)
        for i, (key, value) in enumerate(pairs)
    ]


def summary(table: str, pairs: list[tuple[bytes | None, bytes | None]]) -> Summary:
    result = to_arrow(table, SCHEMAS[table], messages(table, pairs))
    return Summary(
        len(result.table),
        len(result.dead),
        len(result.dead_letters),
        result.table.schema == SCHEMAS[table],
        result.table.column("kafka_offset").to_pylist(),
    )


def summaries(table: str, batches: list[list[tuple[bytes | None, bytes | None]]]) -> list[Summary | str]:
    """`summary` of each batch, or what it raised (`Type: message`), in one call."""
    out: list[Summary | str] = []
    for pairs in batches:
        try:
            out.append(summary(table, pairs))
        except Exception as exc:  # noqa: BLE001 - reported by the property
            out.append(f"{type(exc).__name__}: {' '.join(str(exc).split())[:240]}")
    return out
