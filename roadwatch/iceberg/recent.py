"""What a table took recently: columns of the data files that snapshots since a given time added."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.table import Table


def recent_rows(table: Table, since_s: float, columns: tuple[str, ...]) -> Iterator[tuple[float, pa.Table]]:
    """(snapshot time in seconds, `columns` of one data file) for every live data file that a snapshot at or
    after `since_s` (wall clock) added. A compaction's files count as new: their ids are taken again, which
    only makes the window cover more."""
    since_ms = since_s * 1000
    when = {s.snapshot_id: s.timestamp_ms / 1000 for s in table.snapshots() if s.timestamp_ms >= since_ms}
    if not when or table.current_snapshot() is None:
        return
    for entry in table.inspect.entries().to_pylist():
        if entry["status"] == 2 or entry["snapshot_id"] not in when:  # 2: deleted
            continue
        with table.io.new_input(entry["data_file"]["file_path"]).open() as f:
            yield when[entry["snapshot_id"]], pq.read_table(f, columns=list(columns))
