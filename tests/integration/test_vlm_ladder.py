"""The ladder on the real broker: detector escalations on the VTTI frames climb fast → power → precision
with the `local` backend; every event ends with exactly one verdict, across a SIGKILL of a tier."""

import json
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq, escalations
from roadwatch.producer.api import produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import Verdict
from schemas.records import VLM_TIERS
from tests.helpers import read_committed, wait_for
from tests.integration.test_detector import detector_env
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration


def test_escalations_climb_the_ladder_exactly_once(
    kafka: KafkaSettings, topic_factory, shared_dir: Path, tmp_path: Path
) -> None:
    prefix = f"t.{uuid.uuid4().hex[:8]}."
    topics = {n: topic_factory(n) for n in ("images", "detections", "verdicts")}
    topics["thresholds"] = topic_factory("thresholds", config={"cleanup.policy": "compact"})
    topics["escalations"] = prefix + escalations("fast")
    ladder_topics = [prefix + escalations(t) for t in VLM_TIERS]
    ensure_topics(
        kafka.client_config(),
        [TopicSpec(n, 3) for n in [*ladder_topics, *map(dlq, ladder_topics), dlq(topics["images"])]],
    )
    report = produce(
        [str(shared_dir / "datasets" / "vtti-workzone")],
        "cam-vtti",
        kafka=kafka,
        settings=ProducerSettings(topic=topics["images"]),
    )
    assert report.sent == 32

    detector = ServiceProcess(
        "services.detector", detector_env(kafka, topics, shared_dir), tmp_path / "det.log"
    )
    group = uuid.uuid4().hex[:6]

    def tier(name: str) -> ServiceProcess:
        env = {
            "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "ROADWATCH_VLM_TOPIC_PREFIX": prefix,
            "ROADWATCH_VLM_VERDICTS_TOPIC": topics["verdicts"],
            "ROADWATCH_VLM_METRICS_PORT": "0",
            "ROADWATCH_VLM_MODELS_DIR": str(shared_dir / "models"),
            "ROADWATCH_VLM_ALLOWED_FILE_ROOTS": json.dumps([str(shared_dir / "datasets")]),
            "ROADWATCH_VLM_BATCH_SIZE": "4",
            f"ROADWATCH_VLM_{name.upper()}_GROUP_ID": f"vlm-{name}-{group}",
        }
        return ServiceProcess("services.vlm_tier", env, tmp_path / f"{name}.log", ["--tier", name])

    procs = {"detector": detector.start(), **{t: tier(t).start() for t in VLM_TIERS}}

    def verdicts() -> list[Verdict]:
        return [
            Verdict.model_validate_json(m.value())
            for m in read_committed(kafka.bootstrap_servers, topics["verdicts"], idle_s=0.5)
        ]

    try:
        wait_for(
            lambda: (
                any(v.decided_by == "fast" for v in verdicts())
                or len(read_committed(kafka.bootstrap_servers, ladder_topics[1], idle_s=0.5)) > 0
            ),
            180,
            "the fast tier to answer",
        )
        procs["fast"].kill()
        procs["fast"] = tier("fast").start()
        wait_for(lambda: len(verdicts()) >= 32, 300, "a verdict for each of the 32 frames")
        time.sleep(3)  # duplicates would land now
    finally:
        for p in procs.values():
            p.stop()

    final = verdicts()
    assert Counter(v.event_id for v in final) == Counter(report.event_ids)
    escalated = [v for v in final if v.decided_by != "detector"]
    assert escalated, "some VTTI frames escalate past the cone detector"
    for v in escalated:
        assert v.tier_path[0] == "detector" and v.tier_path[-1] == v.decided_by
        assert [o.tier for o in v.opinions] == v.tier_path[1:]
        assert all(o.backend == "local" and o.prompt_version.startswith("local-") for o in v.opinions)
        assert not v.degraded
