"""The maintainer beside a sink at one-second freshness (real broker, real Iceberg, both as processes): the
small files the sink's commits leave are merged as they come, snapshots are expired, every row lands once,
and the offsets the sink resumes from stay right though its commits now and then lose to a merge."""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from pathlib import Path

import pytest

from roadwatch.iceberg import offsets
from roadwatch.settings import KafkaSettings
from services.maintainer.settings import MaintainerSettings
from tests.fresh_tables import FreshTables, data_files
from tests.helpers import wait_for

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

# the soak (#17), 2,000 rows/s for 5 minutes: ROADWATCH_FRESH_RATE=2000 ROADWATCH_FRESH_SECONDS=300
RATE = int(os.environ.get("ROADWATCH_FRESH_RATE", "500"))
SECONDS = float(os.environ.get("ROADWATCH_FRESH_SECONDS", "30"))
SOAK = SECONDS >= 120  # the maintainer at its defaults, and the targets checked


@pytest.mark.timeout(300 + 2 * SECONDS)
def test_the_maintainer_keeps_a_fresh_table_small_and_every_row_once(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    fields = MaintainerSettings.model_fields
    defaults = {
        f"ROADWATCH_MAINTAINER_{name.upper()}": str(fields[name].default)
        for name in ("interval_s", "snapshot_retention_s")
    }
    run = FreshTables(
        kafka, topic_factory("fresh", partitions=3), tmp_path, maintainer_env=defaults if SOAK else {}
    )
    stop = threading.Event()
    try:
        run.start("sink")
        run.start("maintainer")
        wait_for(lambda: run.ready("sink") and run.ready("maintainer"), 90, "the sink and the maintainer")
        feeder = run.feed(producer_factory(), RATE, SECONDS, stop)
        watcher = run.watch_commits(stop)
        wait_for(
            lambda: run.metric("maintainer", "roadwatch_maintainer_compactions_total") >= 3, 90, "merges"
        )
        feeder.join(SECONDS + 60)
        run.wait_landed(120)
        run.all_alive()
        time.sleep(1.5)  # the watcher's last look
        stop.set()
        watcher.join(10)
        table = run.check_exactly_once()
        sink_commits = run.metric("sink", "roadwatch_sink_commits_total")
        files, snapshots = data_files(table), len(table.snapshots())
        conflicts = run.metric("sink", "roadwatch_sink_commit_conflicts_total")
        fresh = sorted(run.freshness_s())
        p50, p99 = statistics.median(fresh), fresh[int(len(fresh) * 0.99)]
        log.info("freshness p50 %.2fs p99 %.2fs max %.2fs over %d rows", p50, p99, fresh[-1], len(fresh))
        log.info(
            "%d rows: %d sink commits, %d data files, %d snapshots, %d sink conflicts, %d merges, %d expired",
            len(run.sent),
            sink_commits,
            files,
            snapshots,
            conflicts,
            run.metric("maintainer", "roadwatch_maintainer_compactions_total"),
            run.metric("maintainer", "roadwatch_maintainer_snapshots_expired_total"),
        )
        assert sink_commits >= SECONDS / 2  # the sink did commit about once a second
        assert files <= sink_commits / 4  # tiers of four: each holds at most three files
        assert snapshots < sink_commits / 2  # expired as they go (retention 5 s here)
        chain, found = offsets.offsets_chain(table)
        assert found == offsets.committed(table) and chain[-1].summary is not None
        assert run.metric("maintainer", "roadwatch_maintainer_compaction_lag_seconds") < 30
        if SOAK:
            assert p99 <= 2.0
            assert files <= 5 * max(1, len(run.sent) / 100_000)
    finally:
        stop.set()
        run.stop()
