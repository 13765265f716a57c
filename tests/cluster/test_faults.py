"""Faults on the cluster profile's stack, each with nothing lost and nothing duplicated:

- SIGKILL the broker that leads most partitions while 2,000 images flow, start it again later;
- SIGKILL the Flink TaskManager mid-run and start a new one: the job restores its latest checkpoint;
- stop the S3 server for 20 s, then the REST catalog for 20 s: the sink waits, says so on /ready, catches up;
- stop one detector of two mid-run: its partitions move to the other.

Each logs its figures (images, time to recover) on one `fault:` line; the README's reliability table holds
them.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from functools import partial
from pathlib import Path

import httpx
import pytest

from roadwatch.kafka import admin
from roadwatch.stack.cluster import catalog, flink, kraft, objectstore
from roadwatch.stack.cluster.control import kafka_conf
from tests.cluster.conftest import Cluster
from tests.cluster.faults import Feed, assert_exactly_once, image_pool, sources_with_state, start, wait_landed
from tests.helpers import wait_for
from tests.pipeline import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
log = logging.getLogger(__name__)


def leader_counts(cluster: Cluster) -> Counter[int]:
    return Counter(p.leader for p in admin.replicas(kafka_conf(cluster.settings)) if p.leader >= 0)


def fully_replicated(cluster: Cluster) -> bool:
    try:
        parts = admin.replicas(kafka_conf(cluster.settings))
    except Exception:  # noqa: BLE001 - a cluster that does not answer yet is not replicated
        return False
    return all(p.leader >= 0 and len(p.isr) == len(p.replicas) for p in parts)


@pytest.mark.timeout(1500)
def test_sigkill_the_busiest_leader_while_2000_images_flow(
    cluster: Cluster, pipeline: Pipeline, shared_dir: Path
) -> None:
    start(pipeline)
    feed = Feed(pipeline, image_pool(shared_dir), 2000, [f"leader-cam-{i}" for i in range(10)]).start()
    feed.wait_until(400)
    victim = leader_counts(cluster).most_common(1)[0][0]
    killed_at = time.monotonic()
    assert kraft.node(cluster.settings, victim).signal(signal.SIGKILL)
    wait_for(lambda: victim not in leader_counts(cluster), 60, f"new leaders for node {victim}'s partitions")
    elected_s = time.monotonic() - killed_at
    time.sleep(20)
    kraft.start_node(cluster.settings, victim)
    wait_for(lambda: fully_replicated(cluster), 180, f"node {victim} back in every ISR", 2)
    recovered_s = time.monotonic() - killed_at
    sent = feed.join()
    wait_landed(pipeline, sent)
    assert_exactly_once(pipeline, sent)
    log.info(
        "fault: broker %d SIGKILLed, %d images, leaders elected in %.1f s, back in ISR after %.1f s,"
        " restarts %s, lost 0, duplicated 0",
        victim,
        len(sent),
        elected_s,
        recovered_s,
        pipeline.exits,
    )


@pytest.mark.timeout(1200)
def test_sigkill_the_taskmanager_and_start_a_new_one(
    cluster: Cluster, pipeline: Pipeline, shared_dir: Path
) -> None:
    s = cluster.settings
    start(pipeline)
    sources = [f"tm-cam-{i}" for i in range(5)]
    feed = Feed(pipeline, image_pool(shared_dir), 500, sources, chunks=5, pause_s=6).start()
    wait_for(lambda: set(sources) <= sources_with_state(pipeline), 300, "state of every source", 2)
    job = flink.running_job(s)
    assert job is not None
    taskmanagers = sorted(s.home.glob("flink-taskmanager-*.pid"))
    assert len(taskmanagers) == 1
    old = flink.taskmanager(s, int(taskmanagers[0].stem.rsplit("-", 1)[1]))
    killed_at = time.monotonic()
    assert old.signal(signal.SIGKILL)
    new = int(taskmanagers[0].stem.rsplit("-", 1)[1]) + 1
    flink.start_taskmanager(s, new)

    def restored() -> bool:
        checkpoints = httpx.get(f"{s.flink_rest}/jobs/{job.id}/checkpoints", timeout=5).json()
        return (
            checkpoints["counts"]["restored"] >= 1 and getattr(flink.running_job(s), "state", "") == "RUNNING"
        )

    wait_for(restored, 240, "the job running again from its latest checkpoint", 2)
    recovered_s = time.monotonic() - killed_at
    sent = feed.join()
    wait_landed(pipeline, sent)
    assert_exactly_once(pipeline, sent)
    per_source = Counter(sent.values())

    def complete() -> bool:
        states = pipeline.table("source_state", ("event_id", "source_id", "events"))
        if states is None:
            return False
        newest: dict[str, int] = {}
        for row in states.to_pylist():
            if row["source_id"] in per_source:
                newest[row["source_id"]] = max(newest.get(row["source_id"], 0), row["events"])
        # a detection and a verdict per image, each folded once (100 images a source: a multiple of the
        # emit interval, so the last fold is emitted)
        return newest == {src: 2 * n for src, n in per_source.items()}

    wait_for(complete, 240, "every source's state folding each event exactly once", 3)
    states = pipeline.table("source_state", ("event_id", "source_id"))
    assert states is not None
    ids = Counter(r["event_id"] for r in states.to_pylist() if r["source_id"] in per_source)
    assert max(ids.values()) == 1, "a state row twice: Flink's output is not exactly once across the restore"
    log.info(
        "fault: TaskManager SIGKILLed, new one started, %d images, job restored in %.1f s, lost 0,"
        " duplicated 0",
        len(sent),
        recovered_s,
    )


OUTAGE_S = 20


def sink_ready(pipeline: Pipeline) -> bool:
    return pipeline.ready("sink")


def more_verdicts(pipeline: Pipeline, than: int) -> bool:
    return len(pipeline.verdict_counts()) > than


@pytest.mark.timeout(1200)
def test_object_store_then_catalog_outage(cluster: Cluster, pipeline: Pipeline, shared_dir: Path) -> None:
    s = cluster.settings
    start(pipeline)
    feed = Feed(
        pipeline, image_pool(shared_dir), 1000, [f"outage-cam-{i}" for i in range(4)], pause_s=3
    ).start()
    feed.wait_until(200)
    outages = []
    for name, daemon, restart in (
        ("s3proxy", objectstore.daemon(s), objectstore.start),
        ("iceberg-rest", catalog.daemon(s), catalog.start),
    ):
        # the sink only meets an outage when it commits: stop the daemon while verdicts flow into Iceberg
        flowing = partial(more_verdicts, pipeline, len(pipeline.verdict_counts()))
        wait_for(flowing, 300, f"verdicts landing before {name} stops")
        assert daemon.stop()
        began = time.monotonic()
        seen_not_ready = False
        # at least 20 s away; longer only until /ready has said so (the next commit may wait on a batch)
        while (held := time.monotonic() - began) < OUTAGE_S or (not seen_not_ready and held < 120):
            seen_not_ready = seen_not_ready or not sink_ready(pipeline)
            time.sleep(0.5)
        restart(s)
        wait_for(lambda: sink_ready(pipeline), 180, f"the sink ready again after the {name} outage", 1)
        outages.append((name, held, time.monotonic() - began - held))
        assert seen_not_ready, f"/ready never reported the {name} outage in {held:.0f} s"
        assert pipeline.procs["sink"].alive(), "the sink waits an outage out; it does not exit"
    sent = feed.join()
    wait_landed(pipeline, sent)
    assert_exactly_once(pipeline, sent)
    log.info(
        "fault: %s, %d images, ready again (s after the outage) %s, lost 0, duplicated 0",
        " then ".join(f"{n} stopped {held:.0f} s" for n, held, _ in outages),
        len(sent),
        {n: round(after, 1) for n, _, after in outages},
    )


@pytest.mark.timeout(1200)
def test_stop_one_detector_of_two_mid_run(cluster: Cluster, pipeline: Pipeline, shared_dir: Path) -> None:
    start(pipeline)
    feed = Feed(
        pipeline, image_pool(shared_dir), 1000, [f"scale-cam-{i}" for i in range(6)], pause_s=3
    ).start()
    feed.wait_until(300)
    stopped_at = time.monotonic()
    pipeline.procs["detector-2"].stop()
    del pipeline.procs["detector-2"]  # gone for good: the supervisor must not start it again
    sent = feed.join()
    wait_landed(pipeline, sent)
    assert_exactly_once(pipeline, sent)
    log.info(
        "fault: one detector of two stopped, %d images, all landed %.1f s after, lost 0, duplicated 0",
        len(sent),
        time.monotonic() - stopped_at,
    )
