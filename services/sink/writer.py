"""Commit Arrow batches to one Iceberg table with their offsets, fenced against stale writers, riding out
outages of the catalog or its storage."""

from __future__ import annotations

import logging
import random
import threading
import time

import pyarrow as pa
from prometheus_client import Counter, Histogram
from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException, ServerError
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


# What an unreachable catalog or object store raises: pyarrow's and requests' I/O errors (both OSError),
# a REST catalog's 5xx (its own storage away) and a commit whose outcome it could not tell.
UNAVAILABLE = (OSError, ServerError, CommitStateUnknownException)
OUTAGE_BACKOFF_MAX_S = 10.0
LANDED_LOOKBACK = 64  # snapshots searched for an append whose reply an outage swallowed


class StaleWriterError(RoadwatchError):
    """Another writer already committed past this batch's start: this writer must re-seek, not commit."""


class Outage:
    """The catalog or storage outage the writers are riding out, for the service's readiness."""

    def __init__(self) -> None:
        self._why: str | None = None
        self._lock = threading.Lock()

    def begin(self, why: str) -> None:
        with self._lock:
            self._why = why

    def end(self) -> None:
        with self._lock:
            self._why = None

    def reason(self) -> str | None:
        """Why the sink cannot commit now, or None."""
        with self._lock:
            return self._why


class TableWriter:
    """Appends to one table; knows the offsets last committed there."""

    def __init__(
        self,
        table: Table,
        retries: int,
        dedupe_window_s: float = DEFAULT_WINDOW_S,
        outage: Outage | None = None,
    ) -> None:
        self.table = table
        self.outage = outage or Outage()
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
        """Re-read the table and its committed offsets; and the event_ids it took in the window when the
        offsets moved (another writer committed rows). A commit that lost to a maintenance snapshot (which
        carries no offsets and adds no rows) keeps the ids it knows: re-reading the window there would cost
        a scan of every recent file per conflict."""
        before = self.committed
        self.table = self.table.refresh()
        self.committed = offsets.committed(self.table)
        if self.committed != before:
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
        attempted: list[str] = []  # the offsets of each append tried: one may have landed unseen
        for attempt in range(self._retries + 1):
            started = time.perf_counter()
            try:
                merged = self._append(rows, start, end, attempted)
            except CommitFailedException as exc:
                CONFLICTS.labels(self.name).inc()
                before = self.committed
                self._reload_through_outages()
                if self._landed(attempted):  # an attempt an outage hid from us went through after all
                    merged = {**self.committed}
                    break
                if stale := offsets.stale(start, self.committed):
                    raise StaleWriterError(
                        f"{self.name}: partitions {stale} were committed by another writer"
                    ) from exc
                if self.committed == before and attempt == 0:
                    # a maintenance commit (no offsets, no new rows) came first: nobody to back off from
                    log.debug("%s: a maintenance commit came first; retrying on it", self.name)
                    continue
                delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
                log.warning(
                    "commit conflict on %s (attempt %d), retrying in %.2fs", self.name, attempt + 1, delay
                )
                time.sleep(delay)
                continue
            break
        else:
            raise RoadwatchError(f"{self.name}: commit still conflicting after {self._retries} retries")
        elapsed = time.perf_counter() - started
        self.committed = merged
        self._recent.add(ids, time.time())
        COMMIT_SECONDS.labels(self.name).observe(elapsed)
        COMMITS.labels(self.name).inc()
        ROWS.labels(self.name).inc(rows.num_rows)
        return elapsed

    def _landed(self, attempted: list[str]) -> bool:
        """Whether one of the `attempted` appends (by the exact offsets it carried) is in the table's
        recent snapshots: a call that failed on the way back had committed."""
        if not attempted:
            return False
        recent = self.table.metadata.snapshots[-LANDED_LOOKBACK:]
        return any(
            snap.summary is not None and snap.summary.get(offsets.OFFSETS_KEY) in attempted for snap in recent
        )

    def _append(self, rows: pa.Table, start: Offsets, end: Offsets, attempted: list[str]) -> Offsets:
        """Append with `end` merged over the table's offsets; returns the offsets the table holds now.
        An unreachable catalog or storage is waited out with growing pauses (readiness says why meanwhile).
        A call that failed may still have committed: after each failure the table is read back, and a batch
        already in it is not appended again; one another writer overtook meanwhile is stale."""
        delay = 0.5
        while True:
            merged = {**self.committed, **end}
            attempted.append(offsets.encode(merged))
            try:
                self.table.append(rows, snapshot_properties={offsets.OFFSETS_KEY: attempted[-1]})
                self.outage.end()
                return merged
            except UNAVAILABLE as exc:
                self._unavailable(exc, delay)
            delay = min(OUTAGE_BACKOFF_MAX_S, delay * 2)
            self._reload_through_outages()
            if self._landed(attempted):
                self.outage.end()
                return {**self.committed}
            if stale := offsets.stale(start, self.committed):
                raise StaleWriterError(f"{self.name}: partitions {stale} were committed by another writer")

    def _reload_through_outages(self) -> None:
        """`reload`, retried with growing pauses while the catalog or its storage is away."""
        delay = 0.5
        while True:
            try:
                self.reload()
                return
            except UNAVAILABLE as exc:
                self._unavailable(exc, delay)
            delay = min(OUTAGE_BACKOFF_MAX_S, delay * 2)

    def _unavailable(self, exc: BaseException, delay: float) -> None:
        why = f"{self.name}: the catalog or its storage does not answer ({type(exc).__name__}: {exc})"
        if self.outage.reason() is None:
            log.warning("%s; retrying until it does", why)
        self.outage.begin(why)
        time.sleep(delay)
