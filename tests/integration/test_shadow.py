"""A shadow detector (the COCO YOLO11n model) beside production (the cone model) on the real broker: tagged
detections in its own group, no verdict or escalation of its own, production's outputs exactly once as
before, both stored by the sink apart, and `query models --variant` comparing them."""

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from apps.cli import main
from roadwatch.analytics.tables import Tables
from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq
from roadwatch.producer.api import produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import DetectionResult, EscalationRequest, Verdict
from tests.helpers import read_committed, wait_for
from tests.integration.test_detector import detector_env
from tests.services import ServiceProcess, running

pytestmark = pytest.mark.integration
COCO = "yolo11n-coco-int8.tflite"


def records(kafka: KafkaSettings, topic: str, idle_s: float = 3.0) -> list[bytes]:
    return [m.value() for m in read_committed(kafka.bootstrap_servers, topic, idle_s=idle_s)]


def test_a_shadow_detector_beside_production(
    kafka: KafkaSettings,
    topic_factory,
    shared_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = {n: topic_factory(n) for n in ("images", "detections", "verdicts", "escalations", "labels")}
    topics["thresholds"] = topic_factory("thresholds", config={"cleanup.policy": "compact"})
    ensure_topics(kafka.client_config(), [TopicSpec(dlq(topics[n]), 3) for n in ("images", "thresholds")])
    shadow_topic = f"t.shadow.{uuid.uuid4().hex[:10]}"  # the shadow creates it
    vtti = shared_dir / "datasets" / "vtti-workzone"
    report = produce([str(vtti)], "cam-vtti", kafka=kafka, settings=ProducerSettings(topic=topics["images"]))
    assert report.sent == 32
    env = {**detector_env(kafka, topics, shared_dir), "ROADWATCH_DETECTOR_SHADOW_TOPIC": shadow_topic}
    production = ServiceProcess("services.detector", env, tmp_path / "detector.log").start()
    shadow_args = ["run", "detector", "--shadow", "coco", "--model", COCO, "--metrics-port", "0"]
    shadow = ServiceProcess("apps.cli", env, tmp_path / "shadow.log", shadow_args).start()
    try:
        for topic, what in ((topics["detections"], "production's"), (shadow_topic, "the shadow's")):
            wait_for(lambda t=topic: len(records(kafka, t, 0.5)) >= 32, 180, f"{what} 32 detections")
    finally:
        production.stop()
        shadow.stop()

    ids = Counter(report.event_ids)
    tagged = [DetectionResult.model_validate_json(v) for v in records(kafka, shadow_topic)]
    assert Counter(d.event_id for d in tagged) == ids
    assert {d.variant for d in tagged} == {"coco"}
    assert {m.name for d in tagged for m in d.models} == {"yolo11n-coco-int8"}
    # production's outputs: the cone model's, untagged, every event once across verdicts and escalations
    mine = [DetectionResult.model_validate_json(v) for v in records(kafka, topics["detections"])]
    assert Counter(d.event_id for d in mine) == ids and {d.variant for d in mine} == {None}
    assert {m.name for d in mine for m in d.models} == {"roadwork-cone-yolov5n-640"}
    verdicts = [Verdict.model_validate_json(v) for v in records(kafka, topics["verdicts"])]
    escalations = [EscalationRequest.model_validate_json(v) for v in records(kafka, topics["escalations"])]
    assert Counter([v.event_id for v in verdicts] + [e.event_id for e in escalations]) == ids
    assert records(kafka, dlq(topics["images"])) == []

    warehouse = tmp_path / "warehouse"
    sink_env = {
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_SINK_DETECTIONS_TOPIC": topics["detections"],
        "ROADWATCH_SINK_VERDICTS_TOPIC": topics["verdicts"],
        "ROADWATCH_SINK_SOURCE_STATE_TOPIC": topic_factory("state"),
        "ROADWATCH_SINK_LABELS_TOPIC": topics["labels"],
        "ROADWATCH_SINK_SHADOW_DETECTIONS_TOPIC": shadow_topic,
        "ROADWATCH_SINK_SHADOW_OPINIONS_TOPIC": f"t.opinions.{uuid.uuid4().hex[:10]}",
        "ROADWATCH_SINK_DLQ_PATTERN": f"^{topics['images']}\\.dlq$",
        "ROADWATCH_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}",
        "ROADWATCH_SINK_FRESHNESS_MS": "300",
        "ROADWATCH_SINK_METRICS_PORT": "0",
        "ROADWATCH_CATALOG_WAREHOUSE": str(warehouse),
    }
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(warehouse))

    def stored(name: str) -> list[dict[str, object]]:
        return Tables.open().read(name, columns=("event_id", "variant")).to_pylist()

    with running("services.sink", sink_env, tmp_path / "sink.log"):
        wait_for(
            lambda: len(stored("shadow_detections")) >= 32 and len(stored("detections")) >= 32, 120, "rows"
        )
    assert Counter(r["event_id"] for r in stored("shadow_detections")) == ids  # same event_ids, not deduped
    assert {r["variant"] for r in stored("shadow_detections")} == {"coco"}
    assert Counter(r["event_id"] for r in stored("detections")) == ids
    assert {r["variant"] for r in stored("detections")} == {None}

    assert main(["query", "models", "--variant", "coco", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (row["variant"], row["stage"], row["events"]) == ("coco", "detector", 32)
    assert 0.0 <= row["agreement"] <= 1.0 and row["variant_latency_p50_ms"] > 0
