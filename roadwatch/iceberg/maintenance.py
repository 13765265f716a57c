"""Table maintenance, shared by the maintainer service (`services/maintainer`, continuous) and `roadwatch
tables maintain` (once): merge small data files, expire snapshots, delete the files only expired snapshots
referenced, never losing the Kafka offsets the sink resumes from.

- Fencing. A maintenance snapshot carries no `roadwatch.offsets` (the sink's `offsets_chain` walks back
  through it to the newest sink snapshot), so it can never rebase a stale writer's offsets over newer ones.
  Its commit asserts the branch head it was planned on (commit retries are off on roadwatch tables); when a
  sink commit lands first, the merge is planned again on the new head: committed again (the merged file
  reused) only if every file it replaces is still live there, else given up and its file deleted.
- Compaction rewrites the files `roadwatch.iceberg.compaction.plan` picks: reads them through the table's io,
  sorts the rows by the table's sort order and `captured_at`, writes one file, and commits one overwrite
  snapshot that deletes the old files and adds the new one (metadata only: the data is written before).
- Expiry removes snapshots superseded longer ago than the retention (not merely created: a snapshot that was
  current until a moment ago may still be read), never the protected chain from the current snapshot back to
  the newest one that carries offsets. Then the files that only expired snapshots referenced are deleted:
  their manifest lists, their manifests, and the data files live in no retained snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile, DataFileContent, ManifestContent
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Snapshot

from roadwatch.iceberg import offsets
from roadwatch.iceberg.compaction import FileInfo, Group, plan

log = logging.getLogger(__name__)

COMPACTION_KEY = "roadwatch.compaction"  # a maintenance snapshot's summary: how many files it merged
COMMIT_ATTEMPTS = 4
CLI_TARGET_BYTES = 128 * 2**20


class Files:
    """The live data files of a table's current snapshot; manifests are immutable, so each is read once."""

    def __init__(self) -> None:
        self._entries: dict[str, list[tuple[DataFile, int | None]]] = {}

    def live(self, table: Table) -> dict[str, tuple[DataFile, FileInfo]]:
        """path → (the DataFile, what the planner sees of it), for the current snapshot."""
        current = table.current_snapshot()
        if current is None:
            return {}
        added = {s.snapshot_id: (s.timestamp_ms, is_maintenance(s)) for s in table.snapshots()}
        out: dict[str, tuple[DataFile, FileInfo]] = {}
        seen: set[str] = set()
        for manifest in current.manifests(table.io):
            if manifest.content != ManifestContent.DATA:
                continue
            seen.add(manifest.manifest_path)
            if manifest.manifest_path not in self._entries:
                entries = manifest.fetch_manifest_entry(table.io, discard_deleted=True)
                self._entries[manifest.manifest_path] = [(e.data_file, e.snapshot_id) for e in entries]
            for data_file, snapshot_id in self._entries[manifest.manifest_path]:
                if data_file.content != DataFileContent.DATA:
                    continue
                # a file whose snapshot was expired is older than any retained one (time 0: its partition
                # may be quiet) and no longer counts towards the compaction lag
                at, compacted = added.get(snapshot_id or -1, (0, True))
                info = FileInfo(
                    data_file.file_path,
                    partition_key(data_file),
                    data_file.file_size_in_bytes,
                    data_file.record_count,
                    at,
                    compacted,
                )
                out[data_file.file_path] = (data_file, info)
        for gone in self._entries.keys() - seen:
            del self._entries[gone]
        return out


def partition_key(data_file: DataFile) -> Hashable:
    p = data_file.partition
    return (data_file.spec_id, tuple(p[i] for i in range(len(p))))


def is_maintenance(snapshot: Snapshot) -> bool:
    summary = snapshot.summary
    return summary is not None and COMPACTION_KEY in summary.additional_properties


def merged_rows(table: Table, files: list[DataFile]) -> pa.Table:
    """The rows of `files` in the table's current schema, sorted by its sort order, then `captured_at`."""
    rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(
        [FileScanTask(f) for f in files]
    )
    schema = table.schema()
    keys = [schema.find_column_name(f.source_id) for f in table.sort_order().fields]
    keys += ["captured_at"] if "captured_at" in rows.column_names else []
    keys = [k for k in dict.fromkeys(keys) if k is not None]
    return rows.sort_by([(k, "ascending") for k in keys]) if keys else rows


@dataclass
class Merge:
    """One group merged: the files it replaced and wrote, and the snapshot that committed it."""

    group: Group
    written: list[DataFile]
    snapshot_id: int | None = None
    conflicts: int = 0
    seconds: float = 0.0
    committed: bool = field(default=False)


def merge(table: Table, group: Group, files: Files, hold_s: float = 0.0) -> tuple[Table, Merge]:
    """Merge `group`'s files into one and commit; returns the table as it is now and what happened. A
    commit that loses to another writer is planned again (see the module); `hold_s` pauses between writing
    and committing (for tests that kill the process there).

    Raises:
        ValueError: the files hold other rows than the plan counted (the merge is not committed).
        OSError, ServerError: the catalog or storage is away (at most an unreferenced file is left).
    """
    started = time.perf_counter()
    live = files.live(table)
    if any(p not in live for p in group.paths):  # planned on another head
        return table, Merge(group, [], seconds=time.perf_counter() - started)
    old = [live[p][0] for p in group.paths]
    rows = merged_rows(table, old)
    if rows.num_rows != group.records:  # the plan and the files disagree: never commit that
        raise ValueError(f"{table.name()}: read {rows.num_rows} rows of {group.records} planned")
    written = list(_dataframe_to_data_files(table.metadata, rows, table.io))
    result = Merge(group, written)
    if hold_s:
        log.info("%s: wrote %s, holding %.1fs before committing", table.name(), written[0].file_path, hold_s)
        time.sleep(hold_s)
    for _ in range(COMMIT_ATTEMPTS):
        try:
            table = _commit(table, old, written)
        except CommitFailedException:
            result.conflicts += 1
            table = table.refresh()
            live = files.live(table)
            if any(p not in live for p in group.paths):  # another writer replaced one of them meanwhile
                break
            old = [live[p][0] for p in group.paths]
            continue
        current = table.current_snapshot()
        result.snapshot_id = current.snapshot_id if current else None
        result.committed = True
        break
    if not result.committed:
        for f in written:  # never referenced by any snapshot
            table.io.delete(f.file_path)
    result.seconds = time.perf_counter() - started
    return table, result


def _commit(table: Table, old: list[DataFile], new: list[DataFile]) -> Table:
    """One overwrite snapshot on the head `table` was loaded at: `old` out, `new` in, no offsets."""
    tx = table.transaction()
    properties = {COMPACTION_KEY: str(len(old))}
    with tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for f in old:
            overwrite.delete_data_file(f)
        for f in new:
            overwrite.append_data_file(f)
    return tx.commit_transaction()


def protected_snapshots(table: Table) -> set[int]:
    """The current snapshot and its ancestors back to (and including) the newest one carrying offsets."""
    chain, _ = offsets.offsets_chain(table)
    return {snapshot.snapshot_id for snapshot in chain}


def expirable(table: Table, superseded_before_ms: float) -> list[Snapshot]:
    """Snapshots superseded (their child committed) before `superseded_before_ms`, outside the protected
    chain; a snapshot whose child is gone counts from its own time."""
    keep = protected_snapshots(table)
    snapshots = table.snapshots()
    superseded: dict[int, int] = {}
    for s in snapshots:
        if s.parent_snapshot_id is not None:
            prev = superseded.get(s.parent_snapshot_id, s.timestamp_ms)
            superseded[s.parent_snapshot_id] = min(prev, s.timestamp_ms)
    return [
        s
        for s in snapshots
        if s.snapshot_id not in keep and superseded.get(s.snapshot_id, s.timestamp_ms) < superseded_before_ms
    ]


@dataclass(frozen=True)
class Expiry:
    expired: int
    kept: int
    files_deleted: int


class References:
    """Which manifests and data files snapshots reference; each manifest list and manifest read once."""

    def __init__(self) -> None:
        self._lists: dict[str, list[str]] = {}
        self._data: dict[str, set[str]] = {}

    def manifests(self, table: Table, snapshot: Snapshot) -> list[str]:
        if snapshot.manifest_list not in self._lists:
            manifests = snapshot.manifests(table.io)
            self._lists[snapshot.manifest_list] = [m.manifest_path for m in manifests]
            for m in manifests:
                if m.manifest_path not in self._data:
                    live = m.fetch_manifest_entry(table.io, discard_deleted=True)
                    self._data[m.manifest_path] = {e.data_file.file_path for e in live}
        return self._lists[snapshot.manifest_list]

    def data_files(self, manifest: str) -> set[str]:
        return self._data.get(manifest, set())

    def forget(self, manifest_lists: set[str], manifests: set[str]) -> None:
        for path in manifest_lists:
            self._lists.pop(path, None)
        for path in manifests:
            self._data.pop(path, None)


def expire(
    table: Table, older_than: datetime, refs: References | None = None, delete_files: bool = True
) -> tuple[Table, Expiry]:
    """Expire snapshots superseded before `older_than` outside the protected chain, then (`delete_files`)
    delete the manifest lists, manifests and data files no retained snapshot references."""
    refs = refs or References()
    for attempt in range(COMMIT_ATTEMPTS):
        old = expirable(table, older_than.timestamp() * 1000)
        if not old:
            return table, Expiry(0, len(table.snapshots()), 0)
        try:
            table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in old]).commit()
            break
        except CommitFailedException:  # the catalog swaps whole metadata: any commit meanwhile wins
            table = table.refresh()
            if attempt == COMMIT_ATTEMPTS - 1:
                return table, Expiry(0, len(table.snapshots()), 0)  # the next round expires them
    gone_lists = {s.manifest_list for s in old}
    gone_manifests = {m for s in old for m in refs.manifests(table, s)}
    table = table.refresh()
    deleted = 0
    if delete_files:
        kept = {m for s in table.snapshots() for m in refs.manifests(table, s)}
        gone_manifests -= kept
        live = {f for m in kept for f in refs.data_files(m)}
        gone_data = {f for m in gone_manifests for f in refs.data_files(m)} - live
        for path in sorted(gone_data | gone_manifests | gone_lists):
            try:
                table.io.delete(path)
                deleted += 1
            except FileNotFoundError:
                log.debug("%s: %s was already gone", table.name(), path)
        refs.forget(gone_lists, gone_manifests)
    return table, Expiry(len(old), len(table.snapshots()), deleted)


@dataclass(frozen=True)
class TableReport:
    table: str
    files_before: int
    files_after: int
    bytes_after: int
    partitions_compacted: int
    snapshots_expired: int
    snapshots_kept: int


def compact(table: Table, min_files: int, target_bytes: int = CLI_TARGET_BYTES) -> tuple[Table, int]:
    """Merge the small files of every partition that has more than `min_files` data files (in files of at
    most `target_bytes`); returns the table and how many partitions were merged."""
    files = Files()
    live = files.live(table)
    counts: dict[Hashable, int] = {}
    for _, info in live.values():
        counts[info.partition] = counts.get(info.partition, 0) + 1
    busy = [info for _, info in live.values() if counts[info.partition] > min_files]
    done: set[Hashable] = set()
    for group in plan(busy, target_bytes, min_files + 1, int(time.time() * 1000), quiet_s=0):
        table, result = merge(table, group, files)
        if result.committed:
            done.add(group.partition)
        else:
            log.warning("%s: %s changed while merging; left for the next run", table.name(), group.partition)
    return table, len(done)


def maintain(name: str, table: Table, older_than: datetime, min_files: int) -> TableReport:
    """`roadwatch tables maintain` for one table: compact, expire, report."""
    before = len(Files().live(table))
    table, compacted = compact(table, min_files)
    table, expiry = expire(table, min(older_than, datetime.now(UTC)))
    after = [info for _, info in Files().live(table).values()]
    return TableReport(
        name,
        before,
        len(after),
        sum(f.size for f in after),
        compacted,
        expiry.expired,
        expiry.kept,
    )
