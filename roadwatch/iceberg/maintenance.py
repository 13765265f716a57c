"""`roadwatch tables maintain`: compact small files per day partition and expire old snapshots, without ever
losing the Kafka offsets the sink resumes from.

- Compaction rewrites a day partition that has more than `min_files` data files as one overwrite, carrying
  the table's current offsets in its summary. A concurrent sink commit makes it fail cleanly (commit retries
  are off on roadwatch tables); the partition is simply compacted next time.
- Expiry removes snapshots older than the cutoff, but never the chain from the current snapshot back to the
  newest one that carries offsets (the sink walks that chain on start).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan
from pyiceberg.table import Table

from roadwatch.iceberg import offsets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableReport:
    table: str
    files_before: int
    files_after: int
    bytes_after: int
    partitions_compacted: int
    snapshots_expired: int
    snapshots_kept: int


def _files_by_day(table: Table) -> Counter[date]:
    days = [f["partition"]["captured_day"] for f in table.inspect.files().to_pylist()]
    epoch = date(1970, 1, 1)
    return Counter(d if isinstance(d, date) else epoch + timedelta(days=int(d)) for d in days)


def compact(table: Table, min_files: int) -> int:
    """Rewrite every day partition with more than `min_files` files; returns how many were rewritten."""
    done = 0
    for day, count in sorted(_files_by_day(table).items()):
        if count <= min_files:
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        where = And(
            GreaterThanOrEqual("captured_at", start.isoformat()),  # type: ignore[call-arg]
            LessThan("captured_at", (start + timedelta(days=1)).isoformat()),  # type: ignore[call-arg]
        )
        rows = table.scan(row_filter=where).to_arrow()
        committed = offsets.committed(table)
        props = {offsets.OFFSETS_KEY: offsets.encode(committed)} if committed else {}
        try:
            table.overwrite(rows, overwrite_filter=where, snapshot_properties=props)
        except CommitFailedException:
            log.warning("%s: %s changed while compacting; left for the next run", table.name(), day)
            table = table.refresh()
            continue
        done += 1
    return done


def protected_snapshots(table: Table) -> set[int]:
    """The current snapshot and its ancestors back to (and including) the newest one carrying offsets."""
    chain, _ = offsets.offsets_chain(table)
    return {snapshot.snapshot_id for snapshot in chain}


def expire(table: Table, older_than: datetime) -> tuple[int, int]:
    """Expire snapshots older than `older_than` outside the protected chain; returns (expired, kept)."""
    keep = protected_snapshots(table)
    cutoff_ms = older_than.timestamp() * 1000
    old = [
        s.snapshot_id for s in table.snapshots() if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return len(old), len(table.refresh().snapshots())


def maintain(name: str, table: Table, older_than: datetime, min_files: int) -> TableReport:
    before = len(table.inspect.files())
    compacted = compact(table, min_files)
    table = table.refresh()
    expired, kept = expire(table, older_than)
    files = table.refresh().inspect.files().to_pylist()
    return TableReport(
        name, before, len(files), sum(f["file_size_in_bytes"] for f in files), compacted, expired, kept
    )
