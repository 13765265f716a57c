"""SIGKILLs around the maintainer's merges (real broker, real Iceberg, sink and maintainer as processes, fed
at a steady rate): the sink killed while a merge is written but not committed, and the maintainer killed
around its commit (before it, inside it, just after). Every row lands exactly once, the sink resumes from the
right offsets, the table reads whole (no snapshot references a file the kills left half-made), and merging
goes on.

The maintainer's `hold_before_commit_s` (a test hook) opens a window between writing a merge and committing
it; its log says when it enters one.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path

import pytest

from roadwatch.settings import KafkaSettings
from tests.fresh_tables import FreshTables, data_files
from tests.helpers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
log = logging.getLogger(__name__)

RATE, SECONDS, KILLS = 400, 60, 4
HOLD_S = 1.5
HOLDING = "holding"  # the maintainer's log line between writing a merge and committing it


def fed_run(kafka: KafkaSettings, topic: str, work: Path) -> FreshTables:
    run = FreshTables(
        kafka,
        topic,
        work,
        maintainer_env={
            "ROADWATCH_MAINTAINER_HOLD_BEFORE_COMMIT_S": str(HOLD_S),
            "ROADWATCH_MAINTAINER_INTERVAL_S": "0.5",
        },
    )
    run.start("sink")
    run.start("maintainer")
    wait_for(lambda: run.ready("sink") and run.ready("maintainer"), 90, "the sink and the maintainer")
    return run


def next_hold(run: FreshTables) -> None:
    """Wait until the maintainer has written a merge and holds it before committing."""
    seen = run.log_count("maintainer", HOLDING)
    wait_for(lambda: run.log_count("maintainer", HOLDING) > seen, 90, "a merge written, not yet committed")


def finish(run: FreshTables, feeder: threading.Thread) -> None:
    feeder.join(SECONDS + 120)
    assert not feeder.is_alive()
    run.wait_landed(240)
    time.sleep(5)  # a duplicate would land now
    run.all_alive()
    table = run.check_exactly_once()
    assert table.scan().to_arrow().num_rows == len(run.sent)  # every file a snapshot names reads
    merges = run.log_count("maintainer", "merged ")
    log.info("%d rows, %d data files, %d merges committed", len(run.sent), data_files(table), merges)
    assert merges >= 1


@pytest.mark.timeout(600)
def test_sigkill_the_sink_while_a_merge_is_in_flight(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    run = fed_run(kafka, topic_factory("killsink", partitions=3), tmp_path)
    stop = threading.Event()
    try:
        feeder = run.feed(producer_factory(), RATE, SECONDS, stop)
        for _ in range(KILLS):
            next_hold(run)
            run.restart("sink")  # its commits race the held merge when it comes back
            wait_for(lambda: run.ready("sink"), 90, "the sink back")
        finish(run, feeder)
    finally:
        stop.set()
        run.stop()


@pytest.mark.timeout(600)
def test_sigkill_the_maintainer_around_its_commit(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    run = fed_run(kafka, topic_factory("killmaint", partitions=3), tmp_path)
    stop = threading.Event()
    rng = random.Random(17)
    try:
        feeder = run.feed(producer_factory(), RATE, SECONDS, stop)
        for k in range(KILLS):
            next_hold(run)
            # the first kill before the commit (the merged file left unreferenced), then around it
            time.sleep(0.2 if k == 0 else HOLD_S + rng.uniform(-0.05, 0.15))
            run.restart("maintainer")
            wait_for(lambda: run.ready("maintainer"), 90, "the maintainer back")
        finish(run, feeder)
    finally:
        stop.set()
        run.stop()
