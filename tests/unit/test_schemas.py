import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError
from pyiceberg.schema import Schema
from pyiceberg.types import IcebergType, ListType, MapType, StructType

from roadwatch.errors import InvalidInputError
from roadwatch.kafka.codec import decode
from schemas import RECORD_TYPES, DeadLetter, ImageEvent, Verdict
from schemas.export import JSON_DIR, json_schema
from schemas.tables import TABLES, table_def
from tests.factories import detection_result, verdict

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SHA = "a" * 64
FIELD_IDS = Path(__file__).with_name("schema_field_ids.json")


def sample_records() -> list[object]:
    return [
        ImageEvent(
            event_id="e1",
            source_id="cam-1",
            captured_at=NOW,
            image_uri="file:///x.jpg",
            image_sha256=SHA,
            content_type="image/jpeg",
            width=10,
            height=10,
            size_bytes=100,
            produced_at=NOW,
        ),
        Verdict(
            event_id="e1",
            source_id="cam-1",
            captured_at=NOW,
            roadwork=True,
            confidence=0.9,
            decided_by="detector",
            tier_path=["detector"],
            detector_score=0.9,
            decided_at=NOW,
        ),
        DeadLetter(
            event_id="e2",
            source_id="unknown",
            captured_at=NOW,
            service="detector",
            reason="undecodable",
            detail="x",
            source_topic="images.v1",
            partition=0,
            offset=5,
            original_value_b64="AA==",
            failed_at=NOW,
        ),
    ]


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_committed_json_schema_matches_the_model(name: str) -> None:
    committed = json.loads((JSON_DIR / f"{name}.v1.schema.json").read_text())
    assert committed == json_schema(name), "run `python -m schemas.export` and commit the result"


@pytest.mark.parametrize("record", sample_records(), ids=lambda r: type(r).__name__)
def test_model_output_validates_against_the_json_schema(record: ImageEvent) -> None:
    schema = json.loads((JSON_DIR / f"{type(record).__name__}.v1.schema.json").read_text())
    jsonschema.validate(json.loads(record.model_dump_json()), schema)


def test_json_schema_rejects_what_the_model_rejects() -> None:
    schema = json.loads((JSON_DIR / "ImageEvent.v1.schema.json").read_text())
    bad = json.loads(sample_records()[0].model_dump_json()) | {"image_sha256": "not-a-hash"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    with pytest.raises(ValidationError):
        ImageEvent.model_validate(bad)


def test_every_record_carries_the_common_fields() -> None:
    for model in RECORD_TYPES.values():
        assert {"event_id", "source_id", "captured_at", "schema_version"} <= set(model.model_fields)


def test_naive_timestamps_and_unknown_fields_are_rejected() -> None:
    data = json.loads(sample_records()[0].model_dump_json())
    with pytest.raises(ValidationError):
        ImageEvent.model_validate(data | {"captured_at": "2026-11-27T12:00:00"})
    with pytest.raises(ValidationError):
        ImageEvent.model_validate(data | {"surprise": 1})


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e999"])
@pytest.mark.parametrize(
    ("record", "field"),
    [
        (detection_result(), '"decode_ms":3.0'),  # bounded only below: the float bound let inf through
        (detection_result(), '"confidence":0.7'),  # a nested Detection, bounded both sides
        (verdict(), '"latency_ms":120.0'),  # a nested TierOpinion
    ],
    ids=["DetectionResult.decode_ms", "Detection.confidence", "TierOpinion.latency_ms"],
)
def test_non_finite_floats_are_schema_invalid(record: BaseModel, field: str, number: str) -> None:
    """encode writes inf and nan as null, which decode rejects: accepting them would turn a forwarded
    record into poison downstream, so they are refused on the way in."""
    value = record.model_dump_json()
    assert value.count(field) == 1
    name, _ = field.split(":")
    with pytest.raises(InvalidInputError) as caught:
        decode(type(record), value.replace(field, f"{name}:{number}").encode())
    assert caught.value.reason == "schema_invalid"


@pytest.mark.parametrize("name", TABLES)
def test_tables_are_declared_with_day_partitions_and_kafka_coordinates(name: str) -> None:
    d = table_def(name)
    names = {f.name for f in d.schema.fields}
    assert {"event_id", "source_id", "captured_at", "kafka_topic", "kafka_partition", "kafka_offset"} <= names
    assert [f.transform.__class__.__name__ for f in d.partition_spec.fields] == ["DayTransform"]


def field_ids(schema: Schema) -> dict[str, int]:
    """Every column path of `schema` (a list's element is `<list>.element`) and its field id, in order."""
    out: dict[str, int] = {}

    def walk(prefix: str, typ: IcebergType) -> None:
        if isinstance(typ, StructType):
            for f in typ.fields:
                out[prefix + f.name] = f.field_id
                walk(f"{prefix}{f.name}.", f.field_type)
        elif isinstance(typ, ListType):
            out[prefix + "element"] = typ.element_id
            walk(prefix + "element.", typ.element_type)
        elif isinstance(typ, MapType):
            out[prefix + "key"], out[prefix + "value"] = typ.key_id, typ.value_id
            walk(prefix + "key.", typ.key_type)
            walk(prefix + "value.", typ.value_type)

    walk("", schema.as_struct())
    return out


def test_field_ids_are_the_recorded_ones() -> None:
    """Iceberg and the Parquet files already written identify columns by field id, so the ids the
    declaration in `schemas/tables.py` produces must never change: they are recorded in
    `tests/unit/schema_field_ids.json` (table -> {column path: field id}).

    When a column is added on purpose (appended at the end of its table's list, as `schemas/tables.py`
    requires), regenerate the record with `.venv/bin/python -m tests.unit.test_schemas` and check that
    `git diff tests/unit/schema_field_ids.json` only adds lines: a changed id on an existing line means a
    column was inserted or moved, which would make old files misread.
    """
    recorded = json.loads(FIELD_IDS.read_text())
    assert list(recorded) == list(TABLES)
    for name in TABLES:
        assert field_ids(table_def(name).schema) == recorded[name], f"field ids of {name} changed"


def test_partition_and_sort_fields_point_at_the_recorded_columns() -> None:
    recorded = json.loads(FIELD_IDS.read_text())
    for name in TABLES:
        d = table_def(name)
        assert [f.source_id for f in d.partition_spec.fields] == [recorded[name]["captured_at"]]
        assert [f.source_id for f in d.sort_order.fields] == [recorded[name]["source_id"]]


if __name__ == "__main__":  # regenerate the record (see `test_field_ids_are_the_recorded_ones`)
    record = {name: field_ids(table_def(name).schema) for name in TABLES}
    FIELD_IDS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {FIELD_IDS}")
