"""Records → Arrow tables built from the declared schemas (pure).

Fast path: the batch's JSON values are parsed in one vectorised pass by Arrow's JSON reader against the
declared schema (unknown fields are an error), then checked for nulls in required columns. If the block
fails, each record is parsed on its own with the typed model, and the ones that fail become dead-letter
rows — so one bad record costs a slower batch, never a lost or a blocked one.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
from pydantic import BaseModel

from roadwatch.errors import InvalidInputError
from roadwatch.kafka.codec import decode
from roadwatch.kafka.deadletter import RawRecord, dead_letter
from schemas import DeadLetter, DetectionResult, SourceState, Verdict

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset")
MODELS: dict[str, type[BaseModel]] = {
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
    dead: list[RawRecord]
    dead_letters: list[DeadLetter]


def _with_kafka(records: pa.Table, batch: list[RawRecord], full: pa.Schema) -> pa.Table:
    cols = {
        "kafka_topic": pa.array([r.topic for r in batch], pa.large_string()),
        "kafka_partition": pa.array([r.partition for r in batch], pa.int32()),
        "kafka_offset": pa.array([r.offset for r in batch], pa.int64()),
    }
    arrays = [records.column(n) if n in records.column_names else cols[n] for n in full.names]
    return pa.Table.from_arrays(arrays, schema=full)


def _fast(table: str, batch: list[RawRecord], full: pa.Schema) -> pa.Table | None:
    if table == "source_state" or any(r.value is None or b"\n" in r.value for r in batch):
        return None
    target, parse = _record_schemas(full)
    try:
        parsed = pj.read_json(
            io.BytesIO(b"\n".join(r.value or b"" for r in batch)),
            read_options=pj.ReadOptions(block_size=1 << 20),
            parse_options=pj.ParseOptions(explicit_schema=parse, unexpected_field_behavior="error"),
        )
        if parsed.num_rows != len(batch):
            return None
        if any(parsed.column(f.name).null_count for f in target if not f.nullable):
            return None
        return _with_kafka(parsed.cast(target), batch, full)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def to_arrow(table: str, full: pa.Schema, batch: list[RawRecord], service: str = "sink") -> Converted:
    """Arrow rows (schema `full`, the table's own) for `batch`, all from topics feeding `table`, and the
    records that could not be read."""
    fast = _fast(table, batch, full)
    if fast is not None:
        return Converted(fast, [], [])
    good: list[RawRecord] = []
    rows: list[dict[str, Any]] = []
    dead: list[RawRecord] = []
    letters: list[DeadLetter] = []
    model = MODELS[table]
    for r in batch:
        try:
            rows.append(_row(table, decode(model, r.value)))
            good.append(r)
        except InvalidInputError as exc:
            dead.append(r)
            letters.append(dead_letter(r, service=service, reason=exc.reason, detail=exc.detail))
    target, _ = _record_schemas(full)
    return Converted(_with_kafka(pa.Table.from_pylist(rows, schema=target), good, full), dead, letters)


def dead_letter_rows(full: pa.Schema, letters: list[DeadLetter], records: list[RawRecord]) -> pa.Table:
    """Dead-letter rows for records the sink itself could not read, at their own Kafka coordinates."""
    target, _ = _record_schemas(full)
    rows = [letter.model_dump() for letter in letters]
    return _with_kafka(pa.Table.from_pylist(rows, schema=target), records, full)
