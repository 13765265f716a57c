"""The offsets codec kept in snapshot summaries, fencing (`stale`) and the offset span of a batch."""

import json

import pyarrow as pa
import pytest

from roadwatch.iceberg import offsets


def test_encoding_is_compact_json_keyed_topic_colon_partition() -> None:
    assert offsets.encode({("v", 1): 4, ("v", 0): 10}) == '{"v:0":10,"v:1":4}'
    assert offsets.encode({}) == "{}"


def test_encoding_is_sorted_whatever_the_insertion_order() -> None:
    a = {("b", 0): 1, ("a", 2): 2, ("a", 10): 3, ("a.x", 0): 4}
    b = dict(reversed(list(a.items())))
    assert offsets.encode(a) == offsets.encode(b)
    # sorted by (topic, partition) as values: partition 2 before 10, "a" before "a.x" before "b"
    assert list(json.loads(offsets.encode(a))) == ["a:2", "a:10", "a.x:0", "b:0"]


@pytest.mark.parametrize(
    "value",
    [
        {},
        {("verdicts.v1", 0): 0},
        {("verdicts.v1", 0): 12, ("verdicts.v1", 2): 7},
        {("ns:topic", 3): 5, ("a:b:c", 11): 1, ("x.y.z", 0): 2**40},  # ':' and '.' inside topic names
        {(":", 0): 1, ("", 1): 2},
    ],
    ids=["empty", "one", "two-partitions", "colons-and-dots", "degenerate-topics"],
)
def test_decode_inverts_encode(value: offsets.Offsets) -> None:
    assert offsets.decode(offsets.encode(value)) == value


def test_decode_reads_what_a_snapshot_summary_holds() -> None:
    assert offsets.decode('{"a:b:0":3,"c.d:12":9}') == {("a:b", 0): 3, ("c.d", 12): 9}


def test_stale_lists_partitions_the_table_is_already_past() -> None:
    ours = {("v", 0): 5, ("v", 1): 5, ("v", 2): 5, ("w", 0): 0}
    theirs = {("v", 0): 4, ("v", 1): 5, ("v", 2): 6, ("x", 0): 100}
    assert offsets.stale(ours, theirs) == [("v", 2)]  # equal is not stale; unknown partitions are not
    assert offsets.stale(ours, {}) == []
    assert offsets.stale({}, theirs) == []


def test_stale_keeps_the_order_of_our_partitions() -> None:
    ours = {("v", 3): 0, ("v", 1): 0, ("v", 2): 0}
    assert offsets.stale(ours, {("v", 1): 1, ("v", 2): 1, ("v", 3): 1}) == [("v", 3), ("v", 1), ("v", 2)]


def coordinates(rows: list[tuple[str, int, int]]) -> pa.Table:
    topics, partitions, offs = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "kafka_topic": pa.array(topics, pa.string()),
            "kafka_partition": pa.array(partitions, pa.int32()),
            "kafka_offset": pa.array(offs, pa.int64()),
        }
    )


def test_span_is_first_offset_and_next_offset_per_partition() -> None:
    table = coordinates(
        [("v", 0, 12), ("v", 1, 3), ("v", 0, 10), ("w.x", 0, 7), ("v", 0, 11), ("v", 1, 9), ("a:b", 1, 0)]
    )
    start, end = offsets.span(table)
    assert start == {("v", 0): 10, ("v", 1): 3, ("w.x", 0): 7, ("a:b", 1): 0}
    assert end == {("v", 0): 13, ("v", 1): 10, ("w.x", 0): 8, ("a:b", 1): 1}


def test_span_of_a_gap_covers_the_whole_range() -> None:
    """Records skipped inside a batch (dead letters, compacted offsets) are still covered by `end`."""
    assert offsets.span(coordinates([("v", 0, 5), ("v", 0, 9)])) == ({("v", 0): 5}, {("v", 0): 10})


def test_span_of_no_records_is_empty() -> None:
    assert offsets.span(coordinates([])) == ({}, {})
