"""Every table is idempotent on event_id (labels: label_id) within the window: in one batch, across
batches, across restarts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from confluent_kafka import Message

from roadwatch.iceberg import offsets
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from schemas import Label
from services.sink import convert
from services.sink.dedupe import RecentIds, identities
from services.sink.writer import TableWriter
from tests.factories import dead_letter_record, verdict
from tests.labelled_tables import new_label


def test_first_occurrence_wins_and_the_window_expires() -> None:
    recent = RecentIds(window_s=10)
    assert recent.new(["a", "b", "a"], now=0) == [True, True, False]
    recent.add(["a", "b"], at=0)
    assert recent.new(["a", "c"], now=5) == [False, True]
    assert recent.new(["a", "c"], now=11) == [True, True]  # 'a' left the window
    assert len(recent) == 0


def test_a_dead_letter_is_the_same_row_when_it_describes_the_same_record() -> None:
    a, b = dead_letter_record(1), dead_letter_record(2)
    rows = pa.Table.from_pylist([a.model_dump(), b.model_dump() | {"event_id": a.event_id}])
    assert identities("dead_letters", rows) == [
        f"{a.source_topic}:{a.partition}:{a.offset}",
        f"{b.source_topic}:{b.partition}:{b.offset}",
    ]


def _batch(writer: TableWriter, ids: list[str], first_offset: int) -> pa.Table:
    msgs = [
        Message(
            topic="v",
            partition=0,
            offset=first_offset + i,
            key=b"cam-1",
            value=verdict(i, event_id=e).model_dump_json().encode(),
        )
        for i, e in enumerate(ids)
    ]
    return convert.to_arrow("verdicts", writer.arrow_schema, msgs).table


def test_a_repeated_event_id_lands_once_even_across_a_restart(tmp_path: Path) -> None:
    catalog = CatalogSettings(warehouse=str(tmp_path))
    table = ensure_tables(open_catalog(catalog), catalog.namespace)["verdicts"]
    writer = TableWriter(table, retries=1)
    writer.commit(_batch(writer, ["e1", "e2", "e1"], 0), {("v", 0): 0}, {("v", 0): 3})
    writer.commit(_batch(writer, ["e2"], 3), {("v", 0): 3}, {("v", 0): 4})  # all duplicates
    restarted = TableWriter(writer.table.refresh(), retries=1)  # rebuilds the window from the table
    restarted.commit(_batch(restarted, ["e1", "e3"], 4), {("v", 0): 4}, {("v", 0): 6})
    final = restarted.table.refresh()
    assert sorted(final.scan().to_arrow().column("event_id").to_pylist()) == ["e1", "e2", "e3"]
    assert offsets.committed(final) == {("v", 0): 6}  # the offsets advanced past the duplicates


def test_a_zero_window_keeps_only_in_batch_duplicates_out(tmp_path: Path) -> None:
    catalog = CatalogSettings(warehouse=str(tmp_path))
    table = ensure_tables(open_catalog(catalog), catalog.namespace)["verdicts"]
    writer = TableWriter(table, retries=1, dedupe_window_s=0)
    writer.commit(_batch(writer, ["e1", "e1"], 0), {("v", 0): 0}, {("v", 0): 2})
    writer.commit(_batch(writer, ["e1"], 2), {("v", 0): 2}, {("v", 0): 3})
    assert writer.table.refresh().scan().to_arrow().column("event_id").to_pylist() == ["e1", "e1"]


def test_labels_of_one_event_all_land_and_a_repeated_label_once_across_a_restart(tmp_path: Path) -> None:
    """One event is labelled again and again (history is kept): a label's identity is its label_id."""
    catalog = CatalogSettings(warehouse=str(tmp_path))
    table = ensure_tables(open_catalog(catalog), catalog.namespace)["labels"]
    v = verdict(0)
    first, second = (
        new_label(v, "a" * 64, roadwork, minutes) for roadwork, minutes in ((True, 1), (False, 2))
    )

    def batch(writer: TableWriter, labels: list[Label], at: int) -> pa.Table:
        msgs = [
            Message(topic="l", partition=0, offset=at + i, key=b"cam-1", value=lab.model_dump_json().encode())
            for i, lab in enumerate(labels)
        ]
        return convert.to_arrow("labels", writer.arrow_schema, msgs).table

    writer = TableWriter(table, retries=1)
    writer.commit(batch(writer, [first, second, first], 0), {("l", 0): 0}, {("l", 0): 3})
    restarted = TableWriter(writer.table.refresh(), retries=1)
    restarted.commit(batch(restarted, [second], 3), {("l", 0): 3}, {("l", 0): 4})
    rows = restarted.table.refresh().scan().to_arrow()
    assert sorted(rows.column("label_id").to_pylist()) == sorted([first.label_id, second.label_id])
    assert rows.column("event_id").to_pylist() == [v.event_id] * 2
