"""Watching a table from outside, as a reader would: how many rows its current snapshot holds, and when each
row first became visible (the data files every new append snapshot added, read for their `event_id`s).
Snapshots that are not appends (a compaction's rewrite) add no new rows and are skipped."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow.parquet as pq
from pyiceberg.manifest import ManifestContent, ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation, Snapshot

from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings


def added_files(table: Table, snapshot: Snapshot) -> list[str]:
    """Paths of the data files `snapshot` itself added."""
    paths = []
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA or manifest.added_snapshot_id != snapshot.snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snapshot.snapshot_id:
                paths.append(entry.data_file.file_path)
    return paths


def event_ids(table: Table, path: str) -> list[str]:
    with table.io.new_input(path).open(seekable=True) as f:
        return [str(v) for v in pq.read_table(f, columns=["event_id"]).column(0).to_pylist()]


@dataclass(frozen=True)
class TableFigures:
    """A table at the end of a round: rows, data files of its current snapshot, snapshots retained."""

    rows: int
    files: int
    snapshots: int


class TableWatch:
    """One table of a catalog, reloaded on every look."""

    def __init__(self, catalog: CatalogSettings, name: str = "verdicts") -> None:
        self.catalog = open_catalog(catalog)
        self.identifier = f"{catalog.namespace}.{name}"
        self.seen_snapshots: set[int] = set()
        self.first_seen: dict[str, float] = {}  # event_id → when a look first found it (time.time())

    def load(self) -> Table:
        return self.catalog.load_table(self.identifier)

    def rows(self) -> int:
        """Rows in the current snapshot (its summary's `total-records`)."""
        current = self.load().current_snapshot()
        if current is None:
            return 0
        return int(current.summary["total-records"] or 0) if current.summary else 0

    def look(self) -> int:
        """Record the rows that new append snapshots made visible; how many were new."""
        table = self.load()
        at = time.time()
        new = 0
        for snapshot in table.snapshots():
            if snapshot.snapshot_id in self.seen_snapshots:
                continue
            self.seen_snapshots.add(snapshot.snapshot_id)
            if snapshot.summary is None or snapshot.summary.operation != Operation.APPEND:
                continue
            for path in added_files(table, snapshot):
                for event_id in event_ids(table, path):
                    if event_id not in self.first_seen:
                        self.first_seen[event_id] = at
                        new += 1
        return new

    def figures(self) -> TableFigures:
        table = self.load()
        current = table.current_snapshot()
        files = len(table.inspect.files()) if current is not None else 0
        return TableFigures(self.rows(), files, len(table.snapshots()))

    def all_event_ids(self) -> list[str]:
        """Every row's event_id in the current snapshot (a full scan: for tests)."""
        return [str(v) for v in self.load().scan(selected_fields=("event_id",)).to_arrow()["event_id"]]
