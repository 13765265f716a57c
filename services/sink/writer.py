"""Commit Arrow batches to one Iceberg table with their offsets, fenced against stale writers."""

from __future__ import annotations

import logging
import random
import time

import pyarrow as pa
from prometheus_client import Counter, Histogram
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table

from roadwatch.errors import RoadwatchError
from roadwatch.iceberg import offsets
from roadwatch.iceberg.offsets import Offsets
from roadwatch.iceberg.recent import recent_rows
from services.sink.dedupe import DEFAULT_WINDOW_S, RecentIds, identities, identity_columns

log = logging.getLogger(__name__)

ROWS = Counter("roadwatch_sink_rows_total", "Rows committed to Iceberg", ["table"])
COMMITS = Counter("roadwatch_sink_commits_total", "Iceberg commits", ["table"])
DUPLICATES = Counter(
    "roadwatch_sink_duplicates_total", "Rows not written: their event_id landed within the window", ["table"]
)
CONFLICTS = Counter(
    "roadwatch_sink_commit_conflicts_total", "Commit conflicts (reloaded and retried)", ["table"]
)
COMMIT_SECONDS = Histogram(
    "roadwatch_sink_commit_seconds",
    "Iceberg commit latency",
    ["table"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class StaleWriterError(RoadwatchError):
    """Another writer already committed past this batch's start: this writer must re-seek, not commit."""


class TableWriter:
    """Appends to one table; knows the offsets last committed there."""

    def __init__(self, table: Table, retries: int, dedupe_window_s: float = DEFAULT_WINDOW_S) -> None:
        self.table = table
        self.committed: Offsets = offsets.committed(table)
        self._retries = retries
        self._arrow: pa.Schema | None = None
        self._arrow_for = -1
        self._recent = RecentIds(dedupe_window_s)
        self._remember_recent()

    def _remember_recent(self) -> None:
        """The event_ids the table took in the window (on start, and after another writer fenced us)."""
        self._recent = RecentIds(self._recent.window_s)
        columns = identity_columns(self.name)
        for at, rows in recent_rows(self.table, time.time() - self._recent.window_s, columns):
            self._recent.add(identities(self.name, rows), at)

    @property
    def arrow_schema(self) -> pa.Schema:
        """The table's own schema as Arrow (field ids as the catalog assigned them)."""
        if self._arrow is None or self._arrow_for != self.table.schema().schema_id:
            self._arrow, self._arrow_for = self.table.schema().as_arrow(), self.table.schema().schema_id
        return self._arrow

    def reload(self) -> None:
        """Re-read the table, its committed offsets and recent event_ids (after another writer fenced us)."""
        self.table = self.table.refresh()
        self.committed = offsets.committed(self.table)
        self._remember_recent()

    @property
    def name(self) -> str:
        return self.table.name()[-1]

    def commit(self, rows: pa.Table, start: Offsets, end: Offsets) -> float:
        """Append `rows` with offsets `end` merged over the table's; rows whose event_id the table took within
        the dedupe window are left out (the offsets still advance). `start` is each partition's first offset
        in the batch, for the staleness check. Returns the commit latency in seconds.

        Raises:
            StaleWriterError: the table already holds offsets past `start` (a newer writer took over).
            RoadwatchError: conflicts persisted through every retry.
        """
        ids = identities(self.name, rows)
        keep = self._recent.new(ids, time.time())
        if not all(keep):
            DUPLICATES.labels(self.name).inc(keep.count(False))
            rows = rows.filter(pa.array(keep, pa.bool_()))
            ids = [i for i, k in zip(ids, keep, strict=True) if k]
        for attempt in range(self._retries + 1):
            merged = {**self.committed, **end}
            started = time.perf_counter()
            try:
                self.table.append(rows, snapshot_properties={offsets.OFFSETS_KEY: offsets.encode(merged)})
            except CommitFailedException as exc:
                CONFLICTS.labels(self.name).inc()
                self.reload()
                if stale := offsets.stale(start, self.committed):
                    raise StaleWriterError(
                        f"{self.name}: partitions {stale} were committed by another writer"
                    ) from exc
                delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
                log.warning(
                    "commit conflict on %s (attempt %d), retrying in %.2fs", self.name, attempt + 1, delay
                )
                time.sleep(delay)
                continue
            elapsed = time.perf_counter() - started
            self.committed = merged
            self._recent.add(ids, time.time())
            COMMIT_SECONDS.labels(self.name).observe(elapsed)
            COMMITS.labels(self.name).inc()
            ROWS.labels(self.name).inc(rows.num_rows)
            return elapsed
        raise RoadwatchError(f"{self.name}: commit still conflicting after {self._retries} retries")
