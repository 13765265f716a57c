"""A shadow of the fast tier on the real broker: the detector's escalations of the VTTI frames, read in the
shadow's own group with the `local` backend, give one variant-tagged opinion per escalation on the shadow
topic, and nothing else: no verdict, no escalation up the ladder, no dead letter."""

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq, escalations
from roadwatch.producer.api import produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import EscalationRequest, Verdict
from schemas.records import VLM_TIERS, ShadowOpinion
from tests.helpers import read_committed, wait_for
from tests.integration.test_detector import detector_env
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration


def test_a_shadow_tier_only_writes_tagged_opinions(
    kafka: KafkaSettings, topic_factory, shared_dir: Path, tmp_path: Path
) -> None:
    prefix = f"t.{uuid.uuid4().hex[:8]}."
    topics = {n: topic_factory(n) for n in ("images", "detections", "verdicts")}
    topics["thresholds"] = topic_factory("thresholds", config={"cleanup.policy": "compact"})
    topics["escalations"] = prefix + escalations("fast")
    ladder = [prefix + escalations(t) for t in VLM_TIERS]
    shadow_topic = f"t.opinions.{uuid.uuid4().hex[:10]}"
    ensure_topics(
        kafka.client_config(),
        [TopicSpec(n, 3) for n in [*ladder, *map(dlq, ladder), dlq(topics["images"]), shadow_topic]],
    )
    report = produce(
        [str(shared_dir / "datasets" / "vtti-workzone")],
        "cam-vtti",
        kafka=kafka,
        settings=ProducerSettings(topic=topics["images"]),
    )
    assert report.sent == 32

    def read(topic: str, idle_s: float = 0.5) -> list[bytes]:
        return [m.value() for m in read_committed(kafka.bootstrap_servers, topic, idle_s=idle_s)]

    detector = ServiceProcess(
        "services.detector", detector_env(kafka, topics, shared_dir), tmp_path / "det.log"
    ).start()
    try:
        wait_for(lambda: len(read(topics["verdicts"])) + len(read(ladder[0])) >= 32, 180, "the detector")
    finally:
        detector.stop()
    asked = [EscalationRequest.model_validate_json(v) for v in read(ladder[0], 2.0)]
    assert asked, "some VTTI frames escalate past the cone detector"
    before = read(topics["verdicts"], 2.0)

    env = {
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_VLM_TOPIC_PREFIX": prefix,
        "ROADWATCH_VLM_VERDICTS_TOPIC": topics["verdicts"],
        "ROADWATCH_VLM_SHADOW_TOPIC": shadow_topic,
        "ROADWATCH_VLM_MODELS_DIR": str(shared_dir / "models"),
        "ROADWATCH_VLM_ALLOWED_FILE_ROOTS": json.dumps([str(shared_dir / "datasets")]),
        "ROADWATCH_VLM_FAST_GROUP_ID": f"vlm-fast-{uuid.uuid4().hex[:6]}",
    }
    args = ["run", "vlm", "--tier", "fast", "--shadow", "tiles", "--backend", "local", "--metrics-port", "0"]
    shadow = ServiceProcess("apps.cli", env, tmp_path / "shadow.log", args).start()
    try:
        wait_for(lambda: len(read(shadow_topic)) >= len(asked), 240, "an opinion per escalation")
    finally:
        shadow.stop()

    opinions = [ShadowOpinion.model_validate_json(v) for v in read(shadow_topic, 2.0)]
    assert Counter(o.event_id for o in opinions) == Counter(e.event_id for e in asked)  # once each
    assert {(o.variant, o.opinion.tier, o.opinion.backend) for o in opinions} == {("tiles", "fast", "local")}
    assert {o.image_sha256 for o in opinions} == {e.image_sha256 for e in asked}
    # production's topics are as the detector left them: the shadow decided nothing
    assert read(topics["verdicts"], 2.0) == before
    assert [Verdict.model_validate_json(v).decided_by for v in before] == ["detector"] * len(before)
    assert read(ladder[1]) == [] and read(ladder[2]) == []
    assert all(read(dlq(t)) == [] for t in ladder)
