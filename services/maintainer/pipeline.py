"""The maintainer's loop: every `interval_s`, for each table, merge what the plan picks, expire snapshots, and
publish what the files look like. One thread; a round's commits are metadata only and quick (each merge's
file is written before its commit), so the sink's commits wait on none of them for long.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitStateUnknownException, NoSuchTableError, ServerError
from pyiceberg.table import Table

from roadwatch.iceberg.compaction import layout, plan
from roadwatch.iceberg.maintenance import Files, References, expire, merge
from roadwatch.logs import ctx
from roadwatch.serving import Health
from services.maintainer.settings import MaintainerSettings

log = logging.getLogger(__name__)
SERVICE = "maintainer"
UNAVAILABLE = (OSError, ServerError, CommitStateUnknownException)

FILES = Gauge("roadwatch_maintainer_data_files", "Data files in the current snapshot", ["table"])
PARTITIONS = Gauge("roadwatch_maintainer_partitions", "Partitions holding data files", ["table"])
FILES_PER_PARTITION = Gauge(
    "roadwatch_maintainer_max_files_per_partition", "Data files of the fullest partition", ["table"]
)
BYTES_PER_FILE = Gauge("roadwatch_maintainer_bytes_per_file", "Mean data file size, bytes", ["table"])
ROWS = Gauge("roadwatch_maintainer_rows", "Rows in the current snapshot", ["table"])
SNAPSHOTS = Gauge("roadwatch_maintainer_snapshots", "Snapshots retained", ["table"])
LAG = Gauge(
    "roadwatch_maintainer_compaction_lag_seconds",
    "Age of the oldest small file as the sink wrote it, not merged yet",
    ["table"],
)
MERGES = Counter("roadwatch_maintainer_compactions_total", "Merges committed", ["table"])
MERGED_FILES = Counter("roadwatch_maintainer_files_compacted_total", "Small files merged away", ["table"])
CONFLICTS = Counter(
    "roadwatch_maintainer_commit_conflicts_total", "Merge commits that lost to another writer", ["table"]
)
ABANDONED = Counter(
    "roadwatch_maintainer_compactions_abandoned_total", "Merges given up (their files changed)", ["table"]
)
EXPIRED = Counter("roadwatch_maintainer_snapshots_expired_total", "Snapshots expired", ["table"])
DELETED = Counter(
    "roadwatch_maintainer_files_deleted_total", "Files only expired snapshots referenced, deleted", ["table"]
)
MERGE_SECONDS = Histogram(
    "roadwatch_maintainer_compaction_seconds",
    "Time to read, write and commit one merge",
    ["table"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class Maintainer:
    """Tends the tables of one namespace."""

    def __init__(self, settings: MaintainerSettings, catalog: Catalog, namespace: str) -> None:
        self.settings, self.catalog, self.namespace = settings, catalog, namespace
        self.tables: dict[str, Table] = {}
        self._files = {name: Files() for name in settings.tables}
        self._refs = {name: References() for name in settings.tables}
        self._outage: str | None = None

    def outage(self) -> str | None:
        """Why the maintainer cannot tend the tables now, or None (for readiness)."""
        return self._outage

    def run(self, stop: threading.Event, health: Health | None = None) -> None:
        if health is not None:
            health.require(self.outage)
            health.set_ready()
        while not stop.is_set():
            started = time.monotonic()
            self.round()
            stop.wait(max(0.0, self.settings.interval_s - (time.monotonic() - started)))

    def round(self) -> None:
        """One look at every table; a catalog or storage outage is waited out until the next round."""
        for name in self.settings.tables:
            try:
                self.tend(name)
            except UNAVAILABLE as exc:
                why = f"{name}: the catalog or its storage does not answer ({type(exc).__name__}: {exc})"
                if self._outage is None:
                    log.warning("%s; trying again next round", why, extra=ctx(service=SERVICE))
                self._outage = why
                return
        self._outage = None

    def _table(self, name: str) -> Table | None:
        """The table, refreshed; None while the sink has not created it."""
        if name in self.tables:
            return self.tables[name].refresh()
        try:
            self.tables[name] = self.catalog.load_table(f"{self.namespace}.{name}")
        except NoSuchTableError:
            return None
        return self.tables[name]

    def tend(self, name: str) -> None:
        """Merge what the plan picks in `name`, expire its snapshots, publish its layout."""
        table = self._table(name)
        if table is None or table.current_snapshot() is None:
            return
        s, files = self.settings, self._files[name]
        infos = [info for _, info in files.live(table).values()]
        groups = plan(infos, s.target_file_bytes, s.min_small_files, _now_ms(), s.quiet_s)
        for group in groups[: s.max_merges_per_round]:
            table, result = merge(table, group, files, s.hold_before_commit_s)
            CONFLICTS.labels(name).inc(result.conflicts)
            MERGE_SECONDS.labels(name).observe(result.seconds)
            if result.committed:
                MERGES.labels(name).inc()
                MERGED_FILES.labels(name).inc(len(group.paths))
                log.info(
                    "%s: merged %d files (%d rows, %d bytes) into snapshot %s in %.2fs, %d conflicts",
                    name,
                    len(group.paths),
                    group.records,
                    group.bytes,
                    result.snapshot_id,
                    result.seconds,
                    result.conflicts,
                    extra=ctx(service=SERVICE, table=name, snapshot_id=result.snapshot_id),
                )
            else:
                ABANDONED.labels(name).inc()
                log.info("%s: merge of %d files given up: they changed", name, len(group.paths))
        older_than = datetime.fromtimestamp(time.time() - s.snapshot_retention_s, UTC)
        table, expiry = expire(table, older_than, self._refs[name], s.delete_expired_files)
        if expiry.expired:
            EXPIRED.labels(name).inc(expiry.expired)
            DELETED.labels(name).inc(expiry.files_deleted)
            log.debug(
                "%s: expired %d snapshots, deleted %d files", name, expiry.expired, expiry.files_deleted
            )
        self.tables[name] = table
        self._publish(name, table)

    def _publish(self, name: str, table: Table) -> None:
        now = layout(
            (info for _, info in self._files[name].live(table).values()),
            self.settings.target_file_bytes,
            _now_ms(),
        )
        FILES.labels(name).set(now.files)
        PARTITIONS.labels(name).set(now.partitions)
        FILES_PER_PARTITION.labels(name).set(now.max_files_per_partition)
        BYTES_PER_FILE.labels(name).set(now.bytes_per_file)
        ROWS.labels(name).set(now.records)
        SNAPSHOTS.labels(name).set(len(table.snapshots()))
        LAG.labels(name).set(now.compaction_lag_s)


def _now_ms() -> int:
    return int(time.time() * 1000)
