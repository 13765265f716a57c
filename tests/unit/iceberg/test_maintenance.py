"""Table maintenance on a real (SQLite-backed) catalog: the protected offsets chain, expiry, compaction."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from confluent_kafka import Message
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from roadwatch.iceberg import offsets
from roadwatch.iceberg.catalog import ensure_tables
from roadwatch.iceberg.maintenance import expire, maintain, protected_snapshots
from services.sink.convert import to_arrow
from services.sink.writer import TableWriter
from tests.factories import verdict


@pytest.fixture
def table(tmp_path: Path) -> Table:
    catalog = SqlCatalog("roadwatch", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    return ensure_tables(catalog, "roadwatch")["verdicts"]


def rows(table: Table, i: int) -> pa.Table:
    value = verdict(i).model_dump_json().encode()
    record = Message(topic="v", partition=0, offset=i, key=b"cam-1", value=value, timestamp=(1, 1))
    return to_arrow("verdicts", table.schema().as_arrow(), [record]).table


def chain(table: Table, carries: list[bool]) -> list[int]:
    """One append per entry, with offsets in its summary where the entry is true; the snapshot ids."""
    ids = []
    for i, with_offsets in enumerate(carries):
        props = {offsets.OFFSETS_KEY: offsets.encode({("v", 0): i + 1})} if with_offsets else {}
        table.append(rows(table, i), snapshot_properties=props)
        current = table.current_snapshot()
        assert current is not None
        ids.append(current.snapshot_id)
    return ids


def test_protected_is_the_current_snapshot_back_to_the_newest_carrying_offsets(table: Table) -> None:
    s1, s2, s3, s4, s5 = chain(table, [True, False, True, False, False])
    assert len({s1, s2, s3, s4, s5}) == 5
    assert protected_snapshots(table) == {s3, s4, s5}


def test_protected_is_only_the_current_snapshot_when_it_carries_offsets(table: Table) -> None:
    *_, last = chain(table, [True, False, True])
    assert protected_snapshots(table) == {last}


def test_protected_is_the_whole_ancestry_when_no_snapshot_carries_offsets(table: Table) -> None:
    assert protected_snapshots(table) == set()  # never written
    ids = chain(table, [False, False, False])
    assert protected_snapshots(table) == set(ids)


def test_expiry_removes_everything_old_but_the_protected_chain(table: Table) -> None:
    *_, s3, s4, s5 = chain(table, [True, False, True, False, False])
    assert expire(table, datetime.now(UTC) + timedelta(seconds=1)) == (2, 3)
    final = table.refresh()
    assert {s.snapshot_id for s in final.snapshots()} == {s3, s4, s5}
    assert offsets.committed(final) == {("v", 0): 3}  # the sink still finds where to resume


def test_expiry_keeps_snapshots_newer_than_the_cutoff(table: Table) -> None:
    ids = chain(table, [True, False, True, False])
    assert expire(table, datetime.now(UTC) - timedelta(days=1)) == (0, 4)
    assert {s.snapshot_id for s in table.refresh().snapshots()} == set(ids)


def test_maintenance_compacts_and_never_expires_the_offsets_chain(table: Table) -> None:
    writer = TableWriter(table, retries=1)
    for i in range(6):  # six small files in one day partition, offsets carried by each commit
        writer.commit(rows(table, i), start={("v", 0): i}, end={("v", 0): i + 1})
    report = maintain("verdicts", writer.table, datetime.now(UTC) + timedelta(seconds=1), min_files=4)
    final = writer.table.refresh()
    assert (report.files_before, report.files_after, report.partitions_compacted) == (6, 1, 1)
    assert final.scan().to_arrow().num_rows == 6
    assert offsets.committed(final) == {("v", 0): 6}  # the sink resumes exactly where it was
    current = final.current_snapshot()
    assert current is not None
    # the compaction's own snapshot carries the offsets, so it alone is protected, and alone is left
    assert protected_snapshots(final) == {current.snapshot_id}
    assert [s.snapshot_id for s in final.snapshots()] == [current.snapshot_id]
    assert report.snapshots_kept == 1 and report.snapshots_expired >= 6  # the six appends (and what the
    # overwrite made before its last snapshot)


def test_maintenance_leaves_partitions_with_few_files_alone(table: Table) -> None:
    writer = TableWriter(table, retries=1)
    for i in range(3):
        writer.commit(rows(table, i), start={("v", 0): i}, end={("v", 0): i + 1})
    report = maintain("verdicts", writer.table, datetime.now(UTC) - timedelta(days=1), min_files=4)
    assert (report.files_before, report.files_after, report.partitions_compacted) == (3, 3, 0)
    assert (report.snapshots_expired, report.snapshots_kept) == (0, 3)
