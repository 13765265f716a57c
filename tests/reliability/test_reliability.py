"""The reliability suite: the whole pipeline as real processes on the real broker, Iceberg at the end.

- SIGKILL every service (detector, three tiers, sink, Flink) at random moments of a 5,000-image run and
  restart it: every event_id ends with exactly one verdict and one detection in Iceberg.
- Stop the broker mid-run and start it again: every service rides it out and the run completes.
- Take VLM endpoints away and bring them back: breakers open, verdicts fail over and say why, breakers close.

The poison-input mix is `tests/integration/test_poison.py` (it runs in the default suite).
`ROADWATCH_RELIABILITY_IMAGES` shrinks the chaos run for a quick local try.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apps.plan import FLINK_PYTHON
from roadwatch.producer.inputs import local_paths
from roadwatch.serving import STUCK_EXIT_CODE
from roadwatch.settings import KafkaSettings
from schemas.records import VLM_TIERS
from tests.conftest import Broker
from tests.helpers import wait_for
from tests.pipeline import SERVICES, Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]
log = logging.getLogger(__name__)

IMAGES = int(os.environ.get("ROADWATCH_RELIABILITY_IMAGES", "5000"))
KILLS_PER_SERVICE = 2
SOURCES = 10
# every escalation climbs fast → power → precision (the test servers answer with confidence 0.9)
CLIMB = {"ROADWATCH_VLM_FAST_ACCEPT": "0.95", "ROADWATCH_VLM_POWER_ACCEPT": "0.95"}


def image_pool(shared: Path) -> list[Path]:
    data = shared / "datasets"
    return local_paths([str(data / "tracon" / "images"), str(data / "vtti-workzone")])


def feed(pipeline: Pipeline, pool: list[Path], n: int, chunks: int, pause_s: float) -> dict[str, str]:
    """Produce `n` images (the pool repeated) as SOURCES sources in `chunks` spread out over time;
    returns event_id → source_id."""
    sent: dict[str, str] = {}
    paths = [pool[i % len(pool)] for i in range(n)]
    size = -(-n // chunks)
    for c in range(chunks):
        chunk = paths[c * size : (c + 1) * size]
        for s in range(SOURCES):
            source = f"cam-{s:02d}"
            report = pipeline.produce(chunk[s::SOURCES], source)
            assert report.ok, report.failures[:3]
            sent.update(dict.fromkeys(report.event_ids, source))
        log.info("produced %d/%d images", len(sent), n)
        time.sleep(pause_s)
    return sent


def all_alive(pipeline: Pipeline) -> None:
    """Fail at once, with the log's tail, when a service exited by itself."""
    for name, proc in pipeline.procs.items():
        if not proc.alive():
            tail = "\n".join(proc.log.read_text(errors="replace").splitlines()[-30:])
            raise AssertionError(f"{name} exited by itself ({proc.returncode}):\n{tail}")


def landed(pipeline: Pipeline, wanted: set[str]) -> Callable[[], bool]:
    def check() -> bool:
        all_alive(pipeline)
        return set(pipeline.verdict_counts()) >= wanted

    return check


@pytest.fixture
def pipeline(kafka: KafkaSettings, shared_dir: Path, tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline(kafka, shared_dir, tmp_path, detector_band=(0.05, 0.6), tier_env=CLIMB)
    yield p
    p.stop()


def wait_ready(pipeline: Pipeline, services: list[str], timeout_s: float = 180) -> None:
    for name in services:
        if name != "flink":
            wait_for(lambda n=name: pipeline.ready(n), timeout_s, f"{name} to be ready")


@pytest.mark.timeout(1800)
@pytest.mark.skipif(not FLINK_PYTHON.exists(), reason="the Flink environment is set up by scripts/setup.sh")
def test_sigkill_every_service_during_a_5000_image_run(pipeline: Pipeline, shared_dir: Path) -> None:
    services = list(SERVICES)
    pipeline.start(services)
    wait_ready(pipeline, services)
    sent: dict[str, str] = {}
    feeder = threading.Thread(
        target=lambda: sent.update(feed(pipeline, image_pool(shared_dir), IMAGES, 20, 8.0)), daemon=True
    )
    feeder.start()

    rng = random.Random(2026)
    schedule = [name for name in services for _ in range(KILLS_PER_SERVICE)]
    rng.shuffle(schedule)
    kills: Counter[str] = Counter()
    for name in schedule:
        time.sleep(rng.uniform(4, 14))
        all_alive(pipeline)
        wait_ready(pipeline, [name])
        pipeline.restart(name)
        kills[name] += 1
        log.info("SIGKILLed and restarted %s (%d kills so far)", name, sum(kills.values()))
    feeder.join(timeout=600)
    assert not feeder.is_alive() and len(sent) == IMAGES

    wait_for(landed(pipeline, set(sent)), 1200, f"a verdict for each of {IMAGES} images in Iceberg", 5)
    time.sleep(5)  # a duplicate would land now
    all_alive(pipeline)

    verdicts = pipeline.verdict_counts()
    assert set(verdicts) == set(sent), "no verdict lost, none for an unknown event"
    assert max(verdicts.values()) == 1, f"duplicated: {[e for e, c in verdicts.items() if c > 1][:5]}"
    detections = pipeline.table("detections", ("event_id",))
    assert detections is not None
    assert Counter(detections.column("event_id").to_pylist()) == Counter(set(sent))
    decided = pipeline.table("verdicts", ("decided_by",))
    assert decided is not None
    by_tier = Counter(decided.column("decided_by").to_pylist())
    assert by_tier["precision"] > 0 and by_tier["detector"] > 0, by_tier  # the ladder was exercised
    states = pipeline.table("source_state", ("event_id", "source_id"))
    assert states is not None and states.num_rows > 0
    state_ids = Counter(states.column("event_id").to_pylist())
    assert max(state_ids.values()) == 1, "Flink's outputs are exactly once across its kills"
    assert set(states.column("source_id").to_pylist()) == set(sent.values())
    letters = pipeline.table("dead_letters", ("event_id",))
    assert letters is not None and letters.num_rows == 0, "no good image was dead-lettered"
    assert dict(kills) == dict.fromkeys(services, KILLS_PER_SERVICE)
    log.info("chaos run: %d images, kills %s, verdicts by tier %s", IMAGES, dict(kills), dict(by_tier))


@pytest.mark.timeout(900)
def test_broker_stop_and_restart_mid_run(kafka_broker: Broker, pipeline: Pipeline, shared_dir: Path) -> None:
    if kafka_broker.outage is None or kafka_broker.recover is None:
        pytest.skip("the broker named by KAFKA_BOOTSTRAP_SERVERS is not ours to stop")
    services = [s for s in SERVICES if s != "flink" or FLINK_PYTHON.exists()]
    # this pipeline's steps take seconds, so no rebalance waits long for a member: a consumer left out of
    # its group by the outage exits well within the wait below
    pipeline.service_env["ROADWATCH_KAFKA_REJOIN_TIMEOUT_S"] = "120"
    pipeline.start(services)
    wait_ready(pipeline, services)
    pool = image_pool(shared_dir)
    first = feed(pipeline, pool, 300, 1, 0)
    wait_for(lambda: len(pipeline.verdict_counts()) >= 100, 300, "the first 100 verdicts in Iceberg")

    kafka_broker.outage()
    time.sleep(15)
    all_alive(pipeline)  # nobody gives up while the broker is away
    kafka_broker.recover()

    second = feed(pipeline, pool[300:] + pool, 300, 1, 0)
    sent = first | second

    def supervised() -> bool:
        pipeline.supervise()
        return set(pipeline.verdict_counts()) >= set(sent)

    wait_for(supervised, 600, "a verdict for each image after the broker came back", 5)
    time.sleep(5)
    verdicts = pipeline.verdict_counts()
    assert set(verdicts) == set(sent) and max(verdicts.values()) == 1
    # a service may only leave on purpose: a transactional call stuck in librdkafka after the
    # coordinator came back (exit 75, restarted by the supervisor), never a crash
    assert all(code == STUCK_EXIT_CODE for _, code in pipeline.exits), pipeline.exits
    log.info("broker restart: %d images, services restarted after it: %s", len(sent), pipeline.exits)


def breaker(pipeline: Pipeline, tier: str) -> float | None:
    return pipeline.metric(f"vlm-{tier}", "roadwatch_breaker_state", f'tier="{tier}"')


def opened(pipeline: Pipeline, tier: str) -> float:
    value = pipeline.metric(f"vlm-{tier}", "roadwatch_breaker_transitions_total", f'tier="{tier}",to="open"')
    return value or 0.0


@pytest.mark.timeout(900)
def test_vlm_outage_and_recovery(kafka: KafkaSettings, shared_dir: Path, tmp_path: Path) -> None:
    fast_breaker = {
        "ROADWATCH_VLM_RETRIES": "0",
        "ROADWATCH_VLM_TIMEOUT_S": "2",
        "ROADWATCH_VLM_BREAKER__WINDOW_SIZE": "10",
        "ROADWATCH_VLM_BREAKER__MINIMUM_CALLS": "5",
        "ROADWATCH_VLM_BREAKER__WAIT_IN_OPEN_S": "3",
        "ROADWATCH_VLM_BREAKER__HALF_OPEN_CALLS": "1",
    }
    # every image escalates (band 0..1) and climbs to precision while all endpoints answer
    pipeline = Pipeline(kafka, shared_dir, tmp_path, detector_band=(0.0, 1.0), tier_env=CLIMB | fast_breaker)
    services = ["detector", "vlm-fast", "vlm-power", "vlm-precision", "sink"]
    pool = image_pool(shared_dir)
    rounds: list[dict[str, str]] = []

    def phase(n: int) -> list[dict[str, object]]:
        sent = feed(pipeline, pool[len(rounds) * 40 :], n, 1, 0)
        rounds.append(sent)
        wait_for(landed(pipeline, set(sent)), 300, f"verdicts for {n} images")
        rows = pipeline.table("verdicts", ("event_id", "decided_by", "degraded", "degraded_reason"))
        assert rows is not None
        return [r for r in rows.to_pylist() if r["event_id"] in sent]

    try:
        pipeline.start(services)
        wait_ready(pipeline, services)

        healthy = phase(40)
        assert {(r["decided_by"], r["degraded"]) for r in healthy} == {("precision", False)}

        pipeline.servers["precision"].stop()  # the precision endpoint goes away
        precision_down = phase(40)
        assert {(r["decided_by"], r["degraded"]) for r in precision_down} == {("power", True)}
        assert all(str(r["degraded_reason"]).startswith("precision:") for r in precision_down)
        assert opened(pipeline, "precision") >= 1
        assert breaker(pipeline, "fast") == 0 and breaker(pipeline, "power") == 0

        for tier in ("fast", "power"):
            pipeline.servers[tier].stop()  # now every endpoint is away
        all_down = phase(40)
        assert {(r["decided_by"], r["degraded"]) for r in all_down} == {("detector", True)}
        assert all(str(r["degraded_reason"]).startswith("fast:") for r in all_down)
        assert opened(pipeline, "fast") >= 1

        for tier in VLM_TIERS:
            pipeline.serve_vlm(tier)  # back, on the same ports
        time.sleep(4)  # past the breaker's wait_in_open_s: the next calls are half-open probes
        phase(10)  # a probe closes each breaker (calls beside the probe still fail over)
        wait_for(
            lambda: all(breaker(pipeline, t) == 0 for t in ("fast", "precision")), 60, "breakers to close"
        )
        recovered = phase(40)
        assert {(r["decided_by"], r["degraded"]) for r in recovered} == {("precision", False)}
        all_alive(pipeline)
    finally:
        pipeline.stop()
