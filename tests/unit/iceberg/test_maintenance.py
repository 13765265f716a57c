"""Table maintenance on a real (SQLite-backed) catalog: the protected offsets chain, expiry, compaction."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from confluent_kafka import Message
from prometheus_client import REGISTRY
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from roadwatch.iceberg import offsets
from roadwatch.iceberg.catalog import ensure_tables
from roadwatch.iceberg.compaction import plan
from roadwatch.iceberg.maintenance import Files, expire, maintain, merge, protected_snapshots
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


def own_copy(table: Table) -> Table:
    """The table loaded afresh: another process's view (a Table's commits update it in place)."""
    return table.catalog.load_table(".".join(table.name()))


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
    final, expiry = expire(table, datetime.now(UTC) + timedelta(seconds=1))
    assert (expiry.expired, expiry.kept) == (2, 3)
    assert {s.snapshot_id for s in final.snapshots()} == {s3, s4, s5}
    assert offsets.committed(final) == {("v", 0): 3}  # the sink still finds where to resume


def test_expiry_keeps_snapshots_newer_than_the_cutoff(table: Table) -> None:
    ids = chain(table, [True, False, True, False])
    _, expiry = expire(table, datetime.now(UTC) - timedelta(days=1))
    assert (expiry.expired, expiry.kept) == (0, 4)
    assert {s.snapshot_id for s in table.refresh().snapshots()} == set(ids)


def test_maintenance_compacts_and_never_expires_the_offsets_chain(table: Table) -> None:
    writer = TableWriter(table, retries=1)
    for i in range(6):  # six small files in one day partition, offsets carried by each commit
        writer.commit(rows(table, i), start={("v", 0): i}, end={("v", 0): i + 1})
    last_sink = writer.table.current_snapshot()
    assert last_sink is not None
    report = maintain("verdicts", writer.table, datetime.now(UTC) + timedelta(seconds=1), min_files=4)
    final = writer.table.refresh()
    assert (report.files_before, report.files_after, report.partitions_compacted) == (6, 1, 1)
    assert final.scan().to_arrow().num_rows == 6
    assert offsets.committed(final) == {("v", 0): 6}  # the sink resumes exactly where it was
    current = final.current_snapshot()
    assert current is not None and current.summary is not None
    # the compaction's snapshot carries no offsets: the chain runs back to the sink's last snapshot
    assert offsets.OFFSETS_KEY not in current.summary.additional_properties
    assert protected_snapshots(final) == {current.snapshot_id, last_sink.snapshot_id}
    assert {s.snapshot_id for s in final.snapshots()} == {current.snapshot_id, last_sink.snapshot_id}
    assert (report.snapshots_kept, report.snapshots_expired) == (2, 5)


def test_maintenance_leaves_partitions_with_few_files_alone(table: Table) -> None:
    writer = TableWriter(table, retries=1)
    for i in range(3):
        writer.commit(rows(table, i), start={("v", 0): i}, end={("v", 0): i + 1})
    report = maintain("verdicts", writer.table, datetime.now(UTC) - timedelta(days=1), min_files=4)
    assert (report.files_before, report.files_after, report.partitions_compacted) == (3, 3, 0)
    assert (report.snapshots_expired, report.snapshots_kept) == (0, 3)


def test_a_merge_keeps_every_row_once_and_deletes_what_only_expired_snapshots_held(table: Table) -> None:
    writer = TableWriter(table, retries=1)
    batches = [rows(table, i) for i in range(8)]
    for i, batch in enumerate(batches):
        writer.commit(batch, start={("v", 0): i}, end={("v", 0): i + 1})
    files = Files()
    before = {p for p in files.live(writer.table)}
    groups = plan([info for _, info in files.live(writer.table).values()], 2**26, 4, 0, quiet_s=1e9)
    assert [len(g.paths) for g in groups] == [8]
    merged, result = merge(writer.table, groups[0], files)
    assert result.committed and result.conflicts == 0
    ids = merged.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
    assert sorted(ids) == sorted(b.column("event_id")[0].as_py() for b in batches)
    assert len(files.live(merged)) == 1
    _, expiry = expire(merged, datetime.now(UTC) + timedelta(seconds=1))
    # the sink's last snapshot still references the small files: it is the newest carrying offsets
    assert (expiry.expired, expiry.kept) == (7, 2)
    assert all(Path(p.removeprefix("file://")).exists() for p in before)
    writer.table = merged
    writer.commit(rows(table, 8), start={("v", 0): 8}, end={("v", 0): 9})  # the chain moves on
    final, expiry = expire(writer.table, datetime.now(UTC) + timedelta(seconds=1))
    assert (expiry.expired, expiry.kept) == (2, 1)
    assert expiry.files_deleted >= 8 + 2  # the small files, and the expired snapshots' manifest lists
    assert not any(Path(p.removeprefix("file://")).exists() for p in before)
    assert final.scan().to_arrow().num_rows == 9  # what is left reads
    # the merged file's snapshot is gone: it counts as old (its partition may be quiet), and as settled
    merged_file = next(i for _, i in Files().live(final).values() if i.records == 8)
    assert (merged_file.added_ms, merged_file.compacted) == (0, True)
    assert offsets.committed(final) == {("v", 0): 9}


def test_a_merge_that_loses_to_a_sink_commit_is_planned_again_and_the_sink_retries(table: Table) -> None:
    writer = TableWriter(table, retries=3)
    for i in range(4):
        writer.commit(rows(table, i), start={("v", 0): i}, end={("v", 0): i + 1})
    maintainer_view = own_copy(table)  # the maintainer plans on this head
    files = Files()
    (group,) = plan([info for _, info in files.live(maintainer_view).values()], 2**26, 4, 0, quiet_s=1e9)
    writer.commit(rows(table, 4), start={("v", 0): 4}, end={("v", 0): 5})  # lands first
    merged, result = merge(maintainer_view, group, files)
    assert result.committed and result.conflicts == 1  # its files were all still live: committed again
    # the sink's next commit starts from the head the merge replaced: it loses, reloads, is not stale
    conflicts = ("roadwatch_sink_commit_conflicts_total", {"table": "verdicts"})
    lost = REGISTRY.get_sample_value(*conflicts) or 0
    writer.commit(rows(table, 5), start={("v", 0): 5}, end={("v", 0): 6})
    assert REGISTRY.get_sample_value(*conflicts) == lost + 1
    final = merged.refresh()
    ids = final.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
    assert len(ids) == len(set(ids)) == 6
    assert offsets.committed(final) == {("v", 0): 6}
    assert len(Files().live(final)) == 3  # the merged file and the two the sink added


def test_a_merge_whose_files_another_merge_replaced_is_given_up(table: Table) -> None:
    writer = TableWriter(table, retries=1)
    for i in range(4):
        writer.commit(rows(table, i), start={("v", 0): i}, end={("v", 0): i + 1})
    view = own_copy(table)
    files = Files()
    (group,) = plan([info for _, info in files.live(view).values()], 2**26, 4, 0, quiet_s=1e9)
    winner, first = merge(own_copy(table), group, Files())
    assert first.committed
    _, second = merge(view, group, files)  # planned on the old head: its files are gone now
    assert not second.committed and second.conflicts == 1
    assert not any(Path(f.file_path.removeprefix("file://")).exists() for f in second.written)
    final = winner.refresh()
    assert final.scan().to_arrow().num_rows == 4
