"""Consumed records → Arrow tables built from the declared schemas (pure).

The sink buffers the consumer's own `Message` objects: building a tuple per record on the consuming thread
cost more than the Iceberg commit. Fast path: the batch's JSON values are parsed in one vectorised pass by
Arrow's JSON reader against the declared schema (unknown fields are an error), then checked for nulls in
required columns. If the block fails, each record is parsed on its own with the typed model, and the ones
that fail become dead-letter rows — so one bad record costs a slower batch, never a lost or a blocked one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from confluent_kafka import Message
from pydantic import BaseModel

from roadwatch.kafka.codec import decode, decode_keyed
from roadwatch.kafka.deadletter import dead_letter, failure
from roadwatch.kafka.txloop import raw
from schemas import DeadLetter, DetectionResult, SourceState, Verdict
from schemas.records import Record

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset")
MODELS: dict[str, type[Record]] = {
    "detections": DetectionResult,
    "verdicts": Verdict,
    "source_state": SourceState,
    "dead_letters": DeadLetter,
}


def _plain(t: pa.DataType) -> pa.DataType:
    """The JSON reader's spelling of a type: string and list, not their large variants."""
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(_plain_field(t.value_field))
    if pa.types.is_struct(t):
        return pa.struct([_plain_field(f) for f in t])
    return t


def _plain_field(f: pa.Field) -> pa.Field:
    return pa.field(f.name, _plain(f.type), f.nullable)


def _record_schemas(full: pa.Schema) -> tuple[pa.Schema, pa.Schema]:
    """(record columns as the table types them, the same as the JSON reader spells them)."""
    record = pa.schema([full.field(n) for n in full.names if n not in KAFKA_COLUMNS])
    return record, pa.schema([_plain_field(f) for f in record])


def _row(table: str, model: BaseModel) -> dict[str, Any]:
    row = model.model_dump()
    if table == "source_state":
        row["tier_counts_json"] = json.dumps(row.pop("tier_counts"), sort_keys=True)
    return row


@dataclass(frozen=True)
class Converted:
    table: pa.Table
    coordinates: pa.Table  # of every record in the batch, read or not (see `coordinates`)
    dead: list[Message]
    dead_letters: list[DeadLetter]


def merge(parts: Sequence[Converted]) -> Converted:
    """One conversion of several consecutive chunks of a table's records."""
    if len(parts) == 1:
        return parts[0]
    return Converted(
        pa.concat_tables(p.table for p in parts),
        pa.concat_tables(p.coordinates for p in parts),
        [m for p in parts for m in p.dead],
        [d for p in parts for d in p.dead_letters],
    )


def coordinates(batch: Sequence[Message]) -> pa.Table:
    """The records' topic, partition and offset as the tables' `kafka_*` columns."""
    return pa.table(
        {
            "kafka_topic": pa.array([m.topic() for m in batch], pa.large_string()),
            "kafka_partition": pa.array([m.partition() for m in batch], pa.int32()),
            "kafka_offset": pa.array([m.offset() for m in batch], pa.int64()),
        }
    )


def _with_kafka(records: pa.Table, coords: pa.Table, full: pa.Schema) -> pa.Table:
    arrays = [(records if n in records.column_names else coords).column(n) for n in full.names]
    return pa.Table.from_arrays(arrays, schema=full)


def _fast(table: str, batch: Sequence[Message], coords: pa.Table, full: pa.Schema) -> pa.Table | None:
    values = [v for m in batch if (v := m.value()) is not None]
    if table == "source_state" or len(values) != len(batch):
        return None
    if not all(v[:1] == b"{" for v in values):  # only objects: Arrow's reader crashes on a bare `null`
        return None
    block = b"\n".join(values)
    if block.count(b"\n") != len(values) - 1:  # a record spanning lines would shift every row after it
        return None
    target, parse = _record_schemas(full)
    try:
        parsed = pj.read_json(
            io.BytesIO(block),
            read_options=pj.ReadOptions(block_size=1 << 20),
            parse_options=pj.ParseOptions(explicit_schema=parse, unexpected_field_behavior="error"),
        )
        if parsed.num_rows != len(batch):
            return None
        if any(parsed.column(f.name).null_count for f in target if not f.nullable):
            return None
        if table != "dead_letters" and not _keyed_by_source(batch, parsed):
            return None
        return _with_kafka(parsed.cast(target), coords, full)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def _keyed_by_source(batch: Sequence[Message], parsed: pa.Table) -> bool:
    """Every record's Kafka key is its source_id (a dead letter keeps its original's key instead)."""
    keys = pa.array([m.key() for m in batch], pa.binary())
    same = pc.equal(keys, parsed.column("source_id").cast(pa.binary()))
    return bool(pc.all(pc.fill_null(same, False)).as_py())  # a missing key is not a match


def to_arrow(table: str, full: pa.Schema, batch: Sequence[Message], service: str = "sink") -> Converted:
    """Arrow rows (schema `full`, the table's own) for `batch`, all from topics feeding `table`, and the
    records that could not be read."""
    coords = coordinates(batch)
    fast = _fast(table, batch, coords, full)
    if fast is not None:
        return Converted(fast, coords, [], [])
    good: list[Message] = []
    rows: list[dict[str, Any]] = []
    dead: list[Message] = []
    letters: list[DeadLetter] = []
    model = MODELS[table]
    target, _ = _record_schemas(full)
    for m in batch:
        try:
            record = (
                decode(model, m.value())
                if table == "dead_letters"
                else decode_keyed(model, m.key(), m.value())
            )
            row = _row(table, record)
            pa.Table.from_pylist([row], schema=target)  # a value the model takes but the column cannot hold
            rows.append(row)
            good.append(m)
        except Exception as exc:  # noqa: BLE001 - the record becomes a dead-letter row with the reason
            dead.append(m)
            reason, detail = failure(exc)
            letters.append(dead_letter(raw(m), service=service, reason=reason, detail=detail))
    table_rows = _with_kafka(pa.Table.from_pylist(rows, schema=target), coordinates(good), full)
    return Converted(table_rows, coords, dead, letters)


def dead_letter_rows(full: pa.Schema, letters: list[DeadLetter], coords: pa.Table) -> pa.Table:
    """Dead-letter rows for records the sink itself could not read, at their own Kafka coordinates
    (`coordinates` of those records)."""
    target, _ = _record_schemas(full)
    rows = [letter.model_dump() for letter in letters]
    return _with_kafka(pa.Table.from_pylist(rows, schema=target), coords, full)
