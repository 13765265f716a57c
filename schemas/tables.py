"""Iceberg table schemas (namespace `roadwatch`), declared here and never inferred from a batch.

Every table is partitioned by day of `captured_at`, sorted by `source_id`, and carries the Kafka
coordinates (`kafka_topic`, `kafka_partition`, `kafka_offset`) of the record each row came from.
Evolution is additive: new optional columns are appended at the end of a table's list, so they get new
field ids and existing ids never change.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

NAMESPACE = "roadwatch"
FieldDef = tuple[str, IcebergType | Callable[[Iterator[int]], IcebergType], bool]


def struct_fields(fields: list[FieldDef], ids: Iterator[int]) -> list[NestedField]:
    """Fields numbered from `ids` in declaration order (nested types take the ids after their own)."""
    out = []
    for name, typ, required in fields:
        fid = next(ids)
        resolved = typ(ids) if callable(typ) else typ
        out.append(NestedField(fid, name, resolved, required=required))
    return out


def _list_of(fields: list[FieldDef]) -> Callable[[Iterator[int]], IcebergType]:
    def build(ids: Iterator[int]) -> IcebergType:
        element_id = next(ids)
        return ListType(element_id, StructType(*struct_fields(fields, ids)), element_required=True)

    return build


def _struct_of(fields: list[FieldDef]) -> Callable[[Iterator[int]], IcebergType]:
    def build(ids: Iterator[int]) -> IcebergType:
        return StructType(*struct_fields(fields, ids))

    return build


def strings(ids: Iterator[int]) -> IcebergType:
    """A list of strings (the element takes the next id)."""
    return ListType(next(ids), StringType(), element_required=True)


_COMMON: list[FieldDef] = [
    ("event_id", StringType(), True),
    ("source_id", StringType(), True),
    ("captured_at", TimestamptzType(), True),
    ("schema_version", IntegerType(), True),
]
_KAFKA: list[FieldDef] = [
    ("kafka_topic", StringType(), True),
    ("kafka_partition", IntegerType(), True),
    ("kafka_offset", LongType(), True),
]
_DETECTION: list[FieldDef] = [
    ("label", StringType(), True),
    ("class_id", IntegerType(), True),
    ("confidence", DoubleType(), True),
    ("x1", DoubleType(), True),
    ("y1", DoubleType(), True),
    ("x2", DoubleType(), True),
    ("y2", DoubleType(), True),
    ("model", StringType(), True),
]
_OPINION: list[FieldDef] = [
    ("tier", StringType(), True),
    ("backend", StringType(), True),
    ("model", StringType(), True),
    ("prompt_version", StringType(), True),
    ("outcome", StringType(), True),
    ("roadwork", BooleanType(), False),
    ("confidence", DoubleType(), True),
    ("evidence", strings, True),
    ("latency_ms", DoubleType(), True),
    ("error", StringType(), False),
]
_MODEL: list[FieldDef] = [
    ("name", StringType(), True),
    ("version", StringType(), True),
    ("weights_sha256", StringType(), True),
]

_DETECTION_RESULT: list[FieldDef] = [
    ("image_uri", StringType(), False),
    ("image_sha256", StringType(), True),
    ("detections", _list_of(_DETECTION), True),
    ("roadwork_score", DoubleType(), True),
    ("decision", StringType(), True),
    ("band_low", DoubleType(), True),
    ("band_high", DoubleType(), True),
    ("models", _list_of(_MODEL), True),
    ("decode_ms", DoubleType(), True),
    ("inference_ms", DoubleType(), True),
    ("detected_at", TimestamptzType(), True),
    ("variant", StringType(), False),  # null here: production; set in `shadow_detections`
]

TABLE_FIELDS: dict[str, list[FieldDef]] = {
    "detections": _DETECTION_RESULT,
    "verdicts": [
        ("roadwork", BooleanType(), True),
        ("confidence", DoubleType(), True),
        ("decided_by", StringType(), True),
        ("tier_path", strings, True),
        ("opinions", _list_of(_OPINION), True),
        ("detector_score", DoubleType(), True),
        ("degraded", BooleanType(), True),
        ("degraded_reason", StringType(), False),
        ("decided_at", TimestamptzType(), True),
    ],
    "source_state": [
        ("events", LongType(), True),
        ("ewma_confidence", DoubleType(), True),
        ("escalation_rate", DoubleType(), True),
        ("roadwork_rate", DoubleType(), True),
        ("disagreement_rate", DoubleType(), True),
        ("degraded_count", LongType(), True),
        ("tier_counts_json", StringType(), True),
        ("roadwork_active", BooleanType(), True),
        ("alert", StringType(), False),
        ("updated_at", TimestamptzType(), True),
    ],
    "dead_letters": [
        ("service", StringType(), True),
        ("reason", StringType(), True),
        ("detail", StringType(), True),
        ("source_topic", StringType(), True),
        ("partition", IntegerType(), True),
        ("offset", LongType(), True),
        ("original_key_b64", StringType(), False),
        ("original_value_b64", StringType(), True),
        ("failed_at", TimestamptzType(), True),
        ("truncated", BooleanType(), False),
        ("original_size", LongType(), False),
        ("original_sha256", StringType(), False),
    ],
    "labels": [
        ("label_id", StringType(), True),
        ("image_sha256", StringType(), True),
        ("roadwork", BooleanType(), True),
        ("origin", StringType(), True),
        ("labelled_by", StringType(), True),
        ("reference", StringType(), False),
        ("labelled_at", TimestamptzType(), True),
    ],
    # shadow variants' outputs (`roadwatch run detector|vlm --shadow NAME`), kept apart from production's
    "shadow_detections": _DETECTION_RESULT,
    "shadow_opinions": [
        ("variant", StringType(), True),
        ("image_sha256", StringType(), True),
        ("opinion", _struct_of(_OPINION), True),
        ("opined_at", TimestamptzType(), True),
    ],
}


@dataclass(frozen=True)
class TableDef:
    """A table's declared schema, partition spec and sort order."""

    name: str
    schema: Schema
    partition_spec: PartitionSpec
    sort_order: SortOrder

    @property
    def identifier(self) -> str:
        return f"{NAMESPACE}.{self.name}"


def table_def(name: str) -> TableDef:
    """Build the declared definition of one table; field ids are stable for a given declaration."""
    ids = itertools.count(1)
    fields = struct_fields([*_COMMON, *_KAFKA, *TABLE_FIELDS[name]], ids)
    schema = Schema(*fields)
    captured = schema.find_field("captured_at").field_id
    source = schema.find_field("source_id").field_id
    spec = PartitionSpec(PartitionField(captured, 1000, DayTransform(), "captured_day"))
    order = SortOrder(SortField(source_id=source, transform=IdentityTransform()))
    return TableDef(name, schema, spec, order)


TABLES = tuple(TABLE_FIELDS)
