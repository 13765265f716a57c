import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from confluent_kafka import Message
from pyiceberg.catalog.sql import SqlCatalog

from roadwatch.errors import InvalidInputError
from roadwatch.iceberg import offsets
from roadwatch.iceberg.catalog import ensure_tables
from roadwatch.kafka.codec import decode, decode_keyed
from services.sink import convert
from services.sink.convert import MODELS, merge, to_arrow
from services.sink.writer import StaleWriterError, TableWriter
from tests.factories import dead_letter_record, detection_result, source_state, verdict


@pytest.fixture
def tables(tmp_path: Path) -> dict:
    catalog = SqlCatalog("roadwatch", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    return ensure_tables(catalog, "roadwatch")


def records(topic: str, values: list[bytes]) -> list[Message]:
    return [
        Message(topic=topic, partition=0, offset=i, key=b"cam-1", value=v, timestamp=(1, 1_700_000_000_000))
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("table", "make"),
    [
        ("verdicts", verdict),
        ("detections", detection_result),
        ("source_state", source_state),
        ("dead_letters", dead_letter_record),
    ],
)
def test_records_become_rows_of_the_declared_schema(tables: dict, table: str, make) -> None:
    recs = [make(i) for i in range(5)]
    conv = to_arrow(
        table, tables[table].schema().as_arrow(), records("t", [r.model_dump_json().encode() for r in recs])
    )
    assert conv.dead == [] and conv.table.num_rows == 5
    assert conv.table.column("event_id").to_pylist() == [r.event_id for r in recs]
    assert conv.table.column("kafka_offset").to_pylist() == [0, 1, 2, 3, 4]
    tables[table].append(conv.table)  # the catalog accepts it as is
    assert tables[table].scan().to_arrow().num_rows == 5


def test_bad_records_fall_back_and_become_dead_letters(tables: dict) -> None:
    good = [verdict(i).model_dump_json().encode() for i in range(3)]
    bad_json = b'{"event_id": "x",'
    off_schema = json.dumps(json.loads(good[0]) | {"confidence": "very"}).encode()
    extra_field = json.dumps(json.loads(good[0]) | {"surprise": 1}).encode()
    two_lines = good[2].replace(b'"roadwork"', b'\n"roadwork"')  # valid JSON, but not one line
    values = [good[0], bad_json, good[1], off_schema, extra_field, good[2], None, two_lines]
    batch = records("verdicts.v1", values)  # type: ignore[arg-type]  # a tombstone has no value
    conv = to_arrow("verdicts", tables["verdicts"].schema().as_arrow(), batch)
    assert conv.table.num_rows == 4
    assert conv.table.column("kafka_offset").to_pylist() == [0, 2, 5, 7]
    assert [d.offset() for d in conv.dead] == [1, 3, 4, 6]
    assert [letter.reason for letter in conv.dead_letters] == [
        "undecodable",
        "schema_invalid",
        "schema_invalid",
        "undecodable",
    ]


MAKE = {"verdicts": verdict, "detections": detection_result, "dead_letters": dead_letter_record}
Doc = dict[str, Any]


def _keyed(pairs: list[tuple[bytes | None, bytes]]) -> list[Message]:
    return [Message(topic="t", partition=0, offset=i, key=k, value=v) for i, (k, v) in enumerate(pairs)]


def _model_says(table: str, key: bytes | None, value: bytes) -> InvalidInputError | None:
    """What the typed model raises for the record (None where it takes it)."""
    try:
        decode(MODELS[table], value) if table == "dead_letters" else decode_keyed(MODELS[table], key, value)
    except InvalidInputError as exc:
        return exc
    return None


def _opinion(d: Doc, **changes: object) -> Doc:
    return d | {"opinions": [d["opinions"][0] | changes]}


DET = json.loads(detection_result().model_dump_json())["detections"][0]
REJECTED: list[tuple[str, str, bytes | None, Callable[[Doc], Doc]]] = [
    ("null key", "verdicts", None, lambda d: d),
    ("another source's key", "detections", b"cam-2", lambda d: d),
    ("out of range", "verdicts", b"cam-1", lambda d: d | {"confidence": 1.5}),
    ("out of range in a nested model", "verdicts", b"cam-1", lambda d: _opinion(d, latency_ms=-1)),
    ("out of range in a list", "detections", b"cam-1", lambda d: d | {"detections": [{**DET, "x1": -0.1}]}),
    ("out of range, optional", "dead_letters", None, lambda d: d | {"original_size": -1}),
    ("not finite", "verdicts", b"cam-1", lambda d: d | {"detector_score": float("nan")}),
    ("unknown literal", "verdicts", b"cam-1", lambda d: d | {"decided_by": "oracle"}),
    ("unknown literal in a list", "verdicts", b"cam-1", lambda d: d | {"tier_path": ["detector", "x"]}),
    ("unknown literal, nested", "verdicts", b"cam-1", lambda d: _opinion(d, outcome="maybe")),
    ("unknown schema_version", "detections", b"cam-1", lambda d: d | {"schema_version": 2}),
    ("naive timestamp", "verdicts", b"cam-1", lambda d: d | {"decided_at": "2026-11-27T08:00:00"}),
    ("date without a time", "dead_letters", None, lambda d: d | {"failed_at": "2026-11-27"}),
    ("off the pattern", "verdicts", b"cam/1", lambda d: d | {"source_id": "cam/1"}),
    ("off the pattern, optional", "dead_letters", None, lambda d: d | {"original_sha256": "XYZ"}),
    ("too short", "detections", b"cam-1", lambda d: d | {"event_id": ""}),
    ("null where the model wants a value", "dead_letters", None, lambda d: d | {"truncated": None}),
]


@pytest.mark.parametrize(("table", "key", "change"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_a_record_the_model_rejects_is_a_dead_letter_with_its_reason_whatever_its_batch(
    tables: dict, monkeypatch: pytest.MonkeyPatch, table: str, key: bytes | None, change: Callable
) -> None:
    good = [MAKE[table](i).model_dump_json().encode() for i in range(3)]
    bad = json.dumps(change(json.loads(MAKE[table](9).model_dump_json()))).encode()
    batch = _keyed([(b"cam-1", good[0]), (key, bad), (b"cam-1", good[1]), (b"cam-1", good[2])])
    schema = tables[table].schema().as_arrow()
    met_model: list[int] = []
    by_model = convert._by_model

    def spy(table: str, full: pa.Schema, batch: list[Message], *rest: Any) -> Any:
        met_model.append(len(batch))
        return by_model(table, full, batch, *rest)

    monkeypatch.setattr(convert, "_by_model", spy)
    conv = to_arrow(table, schema, batch)
    assert met_model == [1]  # the reader read the batch; only the record that failed a check met the model
    assert conv.table.column("kafka_offset").to_pylist() == [0, 2, 3]
    assert [m.offset() for m in conv.dead] == [1]
    said = _model_says(table, key, bad)
    assert said is not None
    assert [(d.reason, d.detail) for d in conv.dead_letters] == [(said.reason, said.detail)]
    # the same outcome where a batch-mate is unreadable and every record meets the model
    whole = to_arrow(
        table, schema, [*batch, Message(topic="t", partition=0, offset=4, key=b"cam-1", value=b"{")]
    )
    assert whole.table.equals(conv.table)
    assert [m.offset() for m in whole.dead] == [1, 4]
    assert (whole.dead_letters[0].reason, whole.dead_letters[0].detail) == (said.reason, said.detail)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_float_that_is_not_finite_is_left_to_the_model(tables: dict, value: float) -> None:
    doc = _opinion(json.loads(verdict(1).model_dump_json()), latency_ms=value)  # ge=0 only
    odd = json.dumps(doc).encode()
    batch = _keyed([(b"cam-1", verdict(0).model_dump_json().encode()), (b"cam-1", odd)])
    conv = to_arrow("verdicts", tables["verdicts"].schema().as_arrow(), batch)
    takes = _model_says("verdicts", b"cam-1", odd) is None
    assert conv.table.column("kafka_offset").to_pylist() == ([0, 1] if takes else [0])


def test_a_zone_other_than_utc_is_read_as_the_model_reads_it(tables: dict) -> None:
    doc = json.loads(verdict().model_dump_json()) | {"decided_at": "2026-11-27T09:30:00.25+01:30"}
    conv = to_arrow(
        "verdicts", tables["verdicts"].schema().as_arrow(), _keyed([(b"cam-1", json.dumps(doc).encode())])
    )
    assert conv.table.column("decided_at").to_pylist() == [
        decode(MODELS["verdicts"], json.dumps(doc).encode()).decided_at
    ]


def test_chunks_converted_apart_merge_into_the_conversion_of_the_whole(tables: dict) -> None:
    values = [verdict(i).model_dump_json().encode() for i in range(8)]
    values[3] = b"not json"
    batch = [
        Message(topic="v", partition=i % 2, offset=10 + i // 2, key=b"cam-1", value=v, timestamp=(1, 1))
        for i, v in enumerate(values)
    ]
    schema = tables["verdicts"].schema().as_arrow()
    whole = to_arrow("verdicts", schema, batch)
    merged = merge([to_arrow("verdicts", schema, c) for c in (batch[:2], batch[2:5], batch[5:])])
    assert merged.table.equals(whole.table) and merged.table.num_rows == 7
    assert [(m.partition(), m.offset()) for m in merged.dead] == [(1, 11)]
    assert offsets.span(merged.coordinates) == ({("v", 0): 10, ("v", 1): 10}, {("v", 0): 14, ("v", 1): 14})


def test_offsets_round_trip_and_walk_back_through_snapshots(tables: dict) -> None:
    t = tables["verdicts"]
    assert offsets.committed(t) == {}
    rows = to_arrow(
        "verdicts", t.schema().as_arrow(), records("v", [verdict().model_dump_json().encode()])
    ).table
    t.append(rows, snapshot_properties={offsets.OFFSETS_KEY: offsets.encode({("v", 0): 1, ("v:x", 2): 7})})
    t.append(rows)  # a snapshot without offsets (as maintenance makes)
    assert offsets.committed(t) == {("v", 0): 1, ("v:x", 2): 7}


def test_a_stale_writer_is_fenced_not_rebased(tables: dict, tmp_path: Path) -> None:
    catalog = SqlCatalog("roadwatch", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    a = TableWriter(tables["verdicts"], retries=3)
    b = TableWriter(catalog.load_table("roadwatch.verdicts"), retries=3)
    rows = to_arrow("verdicts", a.arrow_schema, records("v", [verdict().model_dump_json().encode()])).table
    b.commit(rows, start={("v", 0): 0}, end={("v", 0): 10})  # b took over and committed up to 10
    with pytest.raises(StaleWriterError):
        a.commit(rows, start={("v", 0): 5}, end={("v", 0): 8})  # a still holds 5..7
    assert offsets.committed(catalog.load_table("roadwatch.verdicts")) == {("v", 0): 10}


def test_conflict_on_other_partitions_is_retried_and_merged(tables: dict, tmp_path: Path) -> None:
    catalog = SqlCatalog("roadwatch", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    a = TableWriter(tables["verdicts"], retries=3)
    b = TableWriter(catalog.load_table("roadwatch.verdicts"), retries=3)
    rows = to_arrow("verdicts", a.arrow_schema, records("v", [verdict().model_dump_json().encode()])).table
    b.commit(rows, start={("v", 1): 0}, end={("v", 1): 4})
    a.commit(rows, start={("v", 0): 0}, end={("v", 0): 3})
    final = catalog.load_table("roadwatch.verdicts")
    assert offsets.committed(final) == {("v", 0): 3, ("v", 1): 4}
    assert final.scan().to_arrow().num_rows == 2


def test_tables_are_day_partitioned_and_never_retry_commits(tables: dict) -> None:
    for t in tables.values():
        assert t.properties["commit.retry.num-retries"] == "0"
        assert [f.name for f in t.spec().fields] == ["captured_day"]
    assert tables["verdicts"].schema().as_arrow().equals(VERDICTS_ARROW, check_metadata=False)


def _required(name: str, typ: pa.DataType) -> pa.Field:
    return pa.field(name, typ, nullable=False)


_STR = pa.large_string()
_STRINGS = pa.large_list(_required("element", _STR))
_OPINION = pa.struct(
    [
        _required("tier", _STR),
        _required("backend", _STR),
        _required("model", _STR),
        _required("prompt_version", _STR),
        _required("outcome", _STR),
        pa.field("roadwork", pa.bool_()),
        _required("confidence", pa.float64()),
        _required("evidence", _STRINGS),
        _required("latency_ms", pa.float64()),
        pa.field("error", _STR),
    ]
)
_TS = pa.timestamp("us", tz="UTC")
# What the sink converts verdict records into (`to_arrow` builds against the table's own Arrow schema).
VERDICTS_ARROW = pa.schema(
    [
        _required("event_id", _STR),
        _required("source_id", _STR),
        _required("captured_at", _TS),
        _required("schema_version", pa.int32()),
        _required("kafka_topic", _STR),
        _required("kafka_partition", pa.int32()),
        _required("kafka_offset", pa.int64()),
        _required("roadwork", pa.bool_()),
        _required("confidence", pa.float64()),
        _required("decided_by", _STR),
        _required("tier_path", _STRINGS),
        _required("opinions", pa.large_list(_required("element", _OPINION))),
        _required("detector_score", pa.float64()),
        _required("degraded", pa.bool_()),
        pa.field("degraded_reason", _STR),
        _required("decided_at", _TS),
    ]
)
