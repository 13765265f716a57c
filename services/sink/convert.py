"""Consumed records → Arrow tables built from the declared schemas (pure).

The sink buffers the consumer's own `Message` objects: building a tuple per record on the consuming thread
cost more than the Iceberg commit. Fast path: the batch's JSON values are parsed in one vectorised pass by
Arrow's JSON reader against the declared schema (unknown fields are an error; timestamps are read as text),
then every row is checked, a column at a time, against the typed model's own constraints (`CHECKS`, derived
from the model's fields) and its Kafka key. The rows that fail a check, or every record of a batch the reader
cannot parse, are parsed one by one with the typed model: a record the model takes becomes a row, the others
dead-letter rows with the model's reason. So a record's outcome never depends on its batch-mates, and one bad
record costs a slower record (or batch), never a lost or a blocked one.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from confluent_kafka import Message
from pydantic import BaseModel

from roadwatch.kafka.codec import decode, decode_keyed
from roadwatch.kafka.deadletter import dead_letter, failure
from roadwatch.kafka.txloop import raw
from schemas import DeadLetter, DetectionResult, Label, ShadowOpinion, SourceState, Verdict
from schemas.records import Record
from services.sink.core import Check, model_check

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset")
MODELS: dict[str, type[Record]] = {
    "detections": DetectionResult,
    "verdicts": Verdict,
    "source_state": SourceState,
    "dead_letters": DeadLetter,
    "labels": Label,
    "shadow_detections": DetectionResult,
    "shadow_opinions": ShadowOpinion,
}

# source_state's tier_counts becomes a JSON text column, which the reader cannot make: always the model
CHECKS: dict[str, Check] = {t: model_check(m) for t, m in MODELS.items() if t != "source_state"}
"""What the fast path checks a table's parsed records against: the typed model's constraints."""


def _plain(t: pa.DataType) -> pa.DataType:
    """The JSON reader's spelling of a type: string and list, not their large variants; timestamps as text
    (the reader takes one without a zone, the model does not: the checks look at the text, the cast reads
    it)."""
    if pa.types.is_large_string(t) or pa.types.is_timestamp(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(_plain_field(t.value_field))
    if pa.types.is_struct(t):
        return pa.struct([_plain_field(f) for f in t])
    return t


def _plain_field(f: pa.Field) -> pa.Field:
    return pa.field(f.name, _plain(f.type), f.nullable)


def _record_schemas(full: pa.Schema) -> tuple[pa.Schema, pa.Schema]:
    """(record columns as the table types them, the same as the JSON reader reads them)."""
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


def _fast(table: str, batch: Sequence[Message], full: pa.Schema) -> tuple[pa.Table, np.ndarray] | None:
    """The batch read in one pass (columns as the reader reads them) and whether each row passes the model's
    checks and the key check; None where the reader cannot read the batch as a whole."""
    values = [v for m in batch if (v := m.value()) is not None]
    check = CHECKS.get(table)
    if check is None or len(values) != len(batch):
        return None
    if not all(v[:1] == b"{" for v in values):  # only objects: Arrow's reader crashes on a bare `null`
        return None
    block = b"\n".join(values)
    if block.count(b"\n") != len(values) - 1:  # a record spanning lines would shift every row after it
        return None
    _, parse = _record_schemas(full)
    try:
        parsed = pj.read_json(
            io.BytesIO(block),
            read_options=pj.ReadOptions(block_size=1 << 20),
            parse_options=pj.ParseOptions(explicit_schema=parse, unexpected_field_behavior="error"),
        )
        if parsed.num_rows != len(batch):
            return None
        ok = check(parsed.to_struct_array())
        if table != "dead_letters":
            ok = pc.and_(ok, _keyed_by_source(batch, parsed))
        return parsed, np.asarray(ok, bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def _keyed_by_source(batch: Sequence[Message], parsed: pa.Table) -> pa.ChunkedArray:
    """Whether each record's Kafka key is its source_id (a dead letter keeps its original's key instead)."""
    keys = pa.array([m.key() for m in batch], pa.binary())
    same = pc.equal(keys, parsed.column("source_id").cast(pa.binary()))
    return pc.fill_null(same, False)  # a missing key is not a match


def _by_model(
    table: str, full: pa.Schema, batch: Sequence[Message], coords: pa.Table, service: str
) -> tuple[Converted, list[int]]:
    """Each record parsed on its own with the typed model, and the positions in `batch` of those that became
    rows; `coords` are the batch's."""
    taken: list[int] = []
    rows: list[dict[str, Any]] = []
    dead: list[Message] = []
    letters: list[DeadLetter] = []
    model = MODELS[table]
    target, _ = _record_schemas(full)
    for i, m in enumerate(batch):
        try:
            record = (
                decode(model, m.value())
                if table == "dead_letters"
                else decode_keyed(model, m.key(), m.value())
            )
            row = _row(table, record)
            pa.Table.from_pylist([row], schema=target)  # a value the model takes but the column cannot hold
            rows.append(row)
            taken.append(i)
        except Exception as exc:  # noqa: BLE001 - the record becomes a dead-letter row with the reason
            dead.append(m)
            reason, detail = failure(exc)
            letters.append(dead_letter(raw(m), service=service, reason=reason, detail=detail))
    at = coords.take(pa.array(taken, pa.int64()))
    return Converted(
        _with_kafka(pa.Table.from_pylist(rows, schema=target), at, full), coords, dead, letters
    ), taken


def _checked(
    table: str,
    full: pa.Schema,
    batch: Sequence[Message],
    coords: pa.Table,
    fast: tuple[pa.Table, np.ndarray],
    service: str,
) -> Converted:
    """The rows that passed the checks as the reader read them, the others through the model, in batch
    order."""
    parsed, passed = fast
    target, _ = _record_schemas(full)
    if passed.all():
        return Converted(_with_kafka(parsed.cast(target), coords, full), coords, [], [])
    suspects = np.flatnonzero(~passed)
    rows = _with_kafka(parsed.filter(passed).cast(target), coords.filter(passed), full)
    slow, taken = _by_model(
        table, full, [batch[i] for i in suspects.tolist()], coords.take(suspects), service
    )
    order = np.argsort(np.concatenate([np.flatnonzero(passed), suspects[taken]]), kind="stable")
    return Converted(pa.concat_tables([rows, slow.table]).take(order), coords, slow.dead, slow.dead_letters)


def to_arrow(table: str, full: pa.Schema, batch: Sequence[Message], service: str = "sink") -> Converted:
    """Arrow rows (schema `full`, the table's own) for `batch`, all from topics feeding `table`, and the
    records that could not be read."""
    coords = coordinates(batch)
    fast = _fast(table, batch, full)
    if fast is not None:
        # a value the checks pass and the cast cannot read (a 30 February) sends the batch to the model
        with contextlib.suppress(pa.ArrowInvalid):
            return _checked(table, full, batch, coords, fast, service)
    return _by_model(table, full, batch, coords, service)[0]


def dead_letter_rows(full: pa.Schema, letters: list[DeadLetter], coords: pa.Table) -> pa.Table:
    """Dead-letter rows for records the sink itself could not read, at their own Kafka coordinates
    (`coordinates` of those records)."""
    target, _ = _record_schemas(full)
    rows = [letter.model_dump() for letter in letters]
    return _with_kafka(pa.Table.from_pylist(rows, schema=target), coords, full)
