"""The detector on the real broker with the shared cone model: exactly-once outputs across a SIGKILL."""

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq
from roadwatch.producer.api import produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import DeadLetter, DetectionResult, EscalationRequest, Thresholds, Verdict
from schemas.records import utcnow
from tests.helpers import read_committed, wait_for
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration


def detector_env(
    kafka: KafkaSettings, topics: dict[str, str], shared_dir: Path, *roots: Path
) -> dict[str, str]:
    """The detector's settings for a test: its topics, and files only under the datasets and `roots`."""
    return {
        "ROADWATCH_DETECTOR_ALLOWED_FILE_ROOTS": json.dumps([str(shared_dir / "datasets"), *map(str, roots)]),
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_DETECTOR_INPUT_TOPIC": topics["images"],
        "ROADWATCH_DETECTOR_DETECTIONS_TOPIC": topics["detections"],
        "ROADWATCH_DETECTOR_VERDICTS_TOPIC": topics["verdicts"],
        "ROADWATCH_DETECTOR_ESCALATION_TOPIC": topics["escalations"],
        "ROADWATCH_DETECTOR_THRESHOLDS_TOPIC": topics["thresholds"],
        "ROADWATCH_DETECTOR_GROUP_ID": f"det-{topics['images']}",
        "ROADWATCH_DETECTOR_MODELS_DIR": str(shared_dir / "models"),
        "ROADWATCH_DETECTOR_METRICS_PORT": "0",
        "ROADWATCH_DETECTOR_BATCH_SIZE": "4",
    }


@pytest.fixture
def topics(topic_factory, kafka: KafkaSettings) -> dict[str, str]:
    names = {n: topic_factory(n) for n in ("images", "detections", "verdicts", "escalations")}
    names["thresholds"] = topic_factory("thresholds", config={"cleanup.policy": "compact"})
    names["dlq"] = dlq(names["images"])
    ensure_topics(kafka.client_config(), [TopicSpec(names["dlq"], 3), TopicSpec(dlq(names["thresholds"]), 3)])
    return names


def test_tracon_val_exactly_once_across_a_sigkill(
    kafka: KafkaSettings, topics: dict[str, str], shared_dir: Path, tmp_path: Path
) -> None:
    val = shared_dir / "datasets" / "tracon" / "images" / "val"
    report = produce([str(val)], "cam-tracon", kafka=kafka, settings=ProducerSettings(topic=topics["images"]))
    assert report.sent == 100
    env = detector_env(kafka, topics, shared_dir)
    log = tmp_path / "detector.log"

    first = ServiceProcess("services.detector", env, log).start()
    wait_for(
        lambda: len(read_committed(kafka.bootstrap_servers, topics["detections"], idle_s=0.5)) >= 20,
        120,
        "the first detections",
    )
    first.kill()
    second = ServiceProcess("services.detector", env, log).start()
    try:
        wait_for(
            lambda: len(read_committed(kafka.bootstrap_servers, topics["detections"], idle_s=0.5)) >= 100,
            180,
            "all 100 detections",
        )
        time.sleep(2)  # anything duplicated would land now
    finally:
        second.stop()

    detections = [
        DetectionResult.model_validate_json(m.value())
        for m in read_committed(kafka.bootstrap_servers, topics["detections"])
    ]
    verdicts = [
        Verdict.model_validate_json(m.value())
        for m in read_committed(kafka.bootstrap_servers, topics["verdicts"])
    ]
    escalations = [
        EscalationRequest.model_validate_json(m.value())
        for m in read_committed(kafka.bootstrap_servers, topics["escalations"])
    ]
    ids = set(report.event_ids)
    assert Counter(d.event_id for d in detections) == Counter(ids)
    decided = Counter([v.event_id for v in verdicts] + [e.event_id for e in escalations])
    assert decided == Counter(ids), "every event exactly once across verdicts + escalations"
    assert all(
        d.models[0].name == "roadwork-cone-yolov5n-640" and len(d.models[0].weights_sha256) == 64
        for d in detections
    )


def test_detector_applies_per_source_bands(
    kafka: KafkaSettings, topics: dict[str, str], shared_dir: Path, tmp_path: Path, producer_factory
) -> None:
    producer = producer_factory()
    band = Thresholds(
        event_id="t1",
        source_id="cam-strict",
        captured_at=utcnow(),
        low=0.0,
        high=0.999,
        evidence=50,
        updated_at=utcnow(),
    )
    producer.produce(topics["thresholds"], key=b"cam-strict", value=band.model_dump_json().encode())
    producer.produce(topics["thresholds"], key=b"cam-odd", value=b'{"source_id": "cam-odd"}')  # not a band
    producer.flush(10)
    vtti = shared_dir / "datasets" / "vtti-workzone"
    settings = ProducerSettings(topic=topics["images"])
    strict = produce([str(vtti)], "cam-strict", kafka=kafka, settings=settings)
    env = detector_env(kafka, topics, shared_dir)
    svc = ServiceProcess("services.detector", env, tmp_path / "detector.log").start()
    try:
        wait_for(
            lambda: len(read_committed(kafka.bootstrap_servers, topics["detections"], idle_s=0.5)) >= 32,
            120,
            "32 detections",
        )
    finally:
        svc.stop()
    results = [
        DetectionResult.model_validate_json(m.value())
        for m in read_committed(kafka.bootstrap_servers, topics["detections"])
    ]
    assert {r.event_id for r in results} == set(strict.event_ids)
    assert {(r.band_low, r.band_high) for r in results} == {(0.0, 0.999)}
    letters = [
        DeadLetter.model_validate_json(m.value())
        for m in read_committed(kafka.bootstrap_servers, dlq(topics["thresholds"]))
    ]
    assert [(d.reason, d.source_topic, d.source_id, d.service) for d in letters] == [
        ("schema_invalid", topics["thresholds"], "cam-odd", "detector")
    ]
    assert not read_committed(kafka.bootstrap_servers, topics["verdicts"], idle_s=1.0)
