"""The console bench's tables (filled through the sink's writer, no broker) and the newest-first read the
Decisions page relies on: the same page as sorting every matching row, from fewer files."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import FileScanTask

from apps.bench import console
from roadwatch.analytics import browse
from roadwatch.analytics.browse import VerdictFilter
from roadwatch.analytics.tables import Tables
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from tests.console_tables import write
from tests.factories import verdict

ROWS, BATCH = 2000, 250
T0 = console.T0


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    settings = CatalogSettings(warehouse=str(tmp_path_factory.mktemp("bench-console") / "warehouse"))
    ensure_tables(open_catalog(settings), settings.namespace)
    tables = Tables.open(settings)
    assert console.fill(tables, ROWS, BATCH) == ROWS // BATCH
    return tables


def every_match(tables: Tables, f: VerdictFilter) -> list[dict[str, object]]:
    """The page as a full scan and one sort gives it."""
    con = duckdb.connect()
    con.register("v", tables.read("verdicts", since=f.since, source=f.source, columns=browse.VERDICT_COLUMNS))
    where, params = ["true"], list[object]()
    for column, value in (("roadwork", f.roadwork), ("decided_by", f.tier), ("degraded", f.degraded)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if f.until is not None:
        where.append("captured_at < ?")
        params.append(f.until)
    sql = f"select * from v where {' and '.join(where)} order by decided_at desc, event_id limit ?"
    rel = con.execute(sql, [*params, f.limit])
    names = [d[0] for d in rel.description or []]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def test_fill_writes_every_row_in_batches_over_days_and_cameras(tables: Tables) -> None:
    verdicts = tables.read("verdicts", columns=("event_id", "source_id", "captured_at"))
    detections = tables.read("detections", columns=("event_id",))
    assert verdicts.num_rows == detections.num_rows == ROWS
    assert set(verdicts.column("event_id").to_pylist()) == set(detections.column("event_id").to_pylist())
    assert len(set(verdicts.column("source_id").to_pylist())) == console.CAMERAS
    days = {t.date() for t in verdicts.column("captured_at").to_pylist()}
    assert len(days) == console.DAYS
    table = tables.catalog.load_table(f"{tables.namespace}.verdicts")
    assert len(table.snapshots()) == ROWS // BATCH  # one commit per batch, as the sink does


@pytest.mark.parametrize(
    "f",
    [
        VerdictFilter(),
        VerdictFilter(source="cam-7"),
        VerdictFilter(source="cam-7", limit=1000),
        VerdictFilter(limit=1),
        VerdictFilter(source="no-such-camera"),
        VerdictFilter(degraded=True, limit=1000),
        VerdictFilter(tier="precision", roadwork=False),
        VerdictFilter(until=T0 + timedelta(days=2, hours=3)),
        VerdictFilter(since=T0 + timedelta(days=3, hours=20), limit=1000),
        VerdictFilter(source="cam-3", since=T0, until=T0 + timedelta(hours=6), limit=500),
        VerdictFilter(until=T0),
    ],
)
def test_a_page_of_verdicts_is_the_one_a_full_sort_gives(tables: Tables, f: VerdictFilter) -> None:
    assert browse.verdicts(tables, f) == every_match(tables, f)


def test_the_newest_page_reads_only_the_newest_files(tables: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []
    to_table = ArrowScan.to_table

    def counting(self: ArrowScan, tasks: Iterable[FileScanTask]) -> pa.Table:
        listed = list(tasks)
        read.append(len(listed))
        return to_table(self, listed)

    monkeypatch.setattr(ArrowScan, "to_table", counting)
    rows = browse.verdicts(tables, VerdictFilter(source="cam-7", limit=10))
    files = len(tables.catalog.load_table(f"{tables.namespace}.verdicts").inspect.files())
    assert len(rows) == 10 and sum(read) < files


def test_a_file_with_a_lower_bound_is_still_read_when_it_holds_newer_rows(tmp_path: Path) -> None:
    # file 1 spans the day (old rows and one late one), file 2 only the afternoon: the newest ten are the
    # late row and nine of file 2, though file 1 alone holds ten rows
    settings = CatalogSettings(warehouse=str(tmp_path / "warehouse"))
    ensure_tables(open_catalog(settings), settings.namespace)
    tables = Tables.open(settings)
    day = datetime(2026, 11, 27, tzinfo=UTC)
    spanning = [verdict(i, decided_at=day + timedelta(minutes=i)) for i in range(20)]
    spanning.append(verdict(20, decided_at=day + timedelta(hours=10)))
    afternoon = [verdict(i, decided_at=day + timedelta(hours=5, minutes=i)) for i in range(20)]
    write(tables, "verdicts", spanning)
    write(tables, "verdicts", afternoon)
    f = VerdictFilter(limit=10)
    rows = browse.verdicts(tables, f)
    assert rows == every_match(tables, f)
    assert [r["event_id"] for r in rows] == [spanning[-1].event_id] + [
        v.event_id for v in afternoon[::-1][:9]
    ]


@pytest.mark.parametrize("first", ["a", "b"])
def test_a_tie_on_the_last_row_reads_every_file_that_may_hold_it(tmp_path: Path, first: str) -> None:
    settings = CatalogSettings(warehouse=str(tmp_path / "warehouse"))
    ensure_tables(open_catalog(settings), settings.namespace)
    tables = Tables.open(settings)
    at = datetime(2026, 11, 27, 12, tzinfo=UTC)
    for event_id in (first, "b" if first == "a" else "a"):
        write(tables, "verdicts", [verdict(0, event_id=event_id, decided_at=at)])
    assert [r["event_id"] for r in browse.verdicts(tables, VerdictFilter(limit=1))] == ["a"]
