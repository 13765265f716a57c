"""The real PyFlink job (local mini-cluster, .venv-flink) on the real broker: a scripted stream for three
sources yields the expected source-state and thresholds records, and the detector picks the bands up."""

import base64
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.plan import FLINK_PYTHON
from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec
from roadwatch.settings import ROOT, KafkaSettings
from roadwatch.vision.scoring import DEFAULT_BAND, Band, BandBook
from schemas import DeadLetter, SourceState, Thresholds
from services.detector.thresholds import ThresholdsReader
from tests.factories import verdict
from tests.helpers import read_committed, wait_for

APPLIED = Thresholds(
    event_id="applied:cam-anchored:1",
    source_id="cam-anchored",
    captured_at=datetime(2026, 1, 1, tzinfo=UTC),
    low=0.3,
    high=0.5,
    evidence=0,
    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    origin="applied",
    drift=0.05,
)
NOT_UTF8 = b'\xff\xfe{"event_id": "\xc3"'
pytestmark = [
    pytest.mark.integration,
    pytest.mark.flink,
    pytest.mark.skipif(
        not FLINK_PYTHON.exists(), reason="the Flink environment is set up by scripts/setup.sh"
    ),
]


def test_scripted_sources_give_alerts_and_bands(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    t = {n: topic_factory(n) for n in ("detections", "verdicts", "state")}
    t["thresholds"] = topic_factory("thresholds", config={"cleanup.policy": "compact"})
    ensure_topics(
        kafka.client_config(),
        [TopicSpec(f"{t[n]}.dlq", 3) for n in ("detections", "verdicts", "thresholds")],
    )
    producer = producer_factory()
    script = (
        [
            verdict(
                i, source="cam-on", roadwork=True, decided_by="detector", tier_path=["detector"], opinions=[]
            )
            for i in range(10)
        ]
        + [
            verdict(
                i,
                source="cam-off",
                roadwork=False,
                decided_by="detector",
                tier_path=["detector"],
                opinions=[],
            )
            for i in range(10)
        ]
        + [verdict(i, source="cam-disagree", roadwork=True, detector_score=0.05) for i in range(12)]
    )
    for v in script:
        producer.produce(t["verdicts"], key=v.source_id.encode(), value=v.model_dump_json().encode())
    # `tune --apply`'s band for cam-anchored: the job's moves for it stay within 0.05 of 0.3-0.5
    producer.produce(t["thresholds"], key=b"cam-anchored", value=APPLIED.model_dump_json().encode())
    producer.produce(t["verdicts"], key=b"cam-x", value=b'{"broken": ')
    producer.produce(t["verdicts"], key=b"cam-x", value=NOT_UTF8)  # dead-lettered byte for byte
    producer.produce(t["verdicts"], key=b"cam-x", value=None)  # a tombstone: a dead letter, not a failed task
    # keys are source ids everywhere: a record under another source's key is refused, not folded into it
    mis_keyed = verdict(99, source="cam-on")
    producer.produce(t["verdicts"], key=b"cam-x", value=mis_keyed.model_dump_json().encode())
    producer.flush(10)
    env = {
        **os.environ,
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_FLINK_DETECTIONS_TOPIC": t["detections"],
        "ROADWATCH_FLINK_VERDICTS_TOPIC": t["verdicts"],
        "ROADWATCH_FLINK_STATE_TOPIC": t["state"],
        "ROADWATCH_FLINK_THRESHOLDS_TOPIC": t["thresholds"],
        "ROADWATCH_FLINK_GROUP_ID": f"flink-{uuid.uuid4().hex[:8]}",
        "ROADWATCH_FLINK_CHECKPOINT_MS": "2000",
        "ROADWATCH_FLINK_EMIT_EVERY": "5",
        "ROADWATCH_FLINK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "ROADWATCH_FLINK_METRICS_PORT": "0",
    }
    with (tmp_path / "flink.log").open("wb") as log:
        job = subprocess.Popen(
            [str(FLINK_PYTHON), "-m", "flink_jobs.confidence_state"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def adaptive() -> list[Thresholds]:
            records = read_committed(kafka.bootstrap_servers, t["thresholds"], idle_s=0.5)
            bands = [Thresholds.model_validate_json(m.value()) for m in records]
            return [b for b in bands if b.origin == "adaptive"]

        def states() -> list[SourceState]:
            return [
                SourceState.model_validate_json(m.value())
                for m in read_committed(kafka.bootstrap_servers, t["state"], idle_s=0.5)
            ]

        wait_for(
            lambda: (
                {s.source_id for s in states()} >= {"cam-on", "cam-off", "cam-disagree"}
                and any(s.alert for s in states())
            ),
            240,
            "source-state records for the three sources",
        )
        # produced once the job reads every topic, so the applied band is folded before them
        for i in range(12):
            v = verdict(100 + i, source="cam-anchored", roadwork=True, detector_score=0.05)
            producer.produce(t["verdicts"], key=b"cam-anchored", value=v.model_dump_json().encode())
        producer.flush(10)
        wait_for(
            lambda: any(b.source_id == "cam-anchored" for b in adaptive()),
            120,
            "an adaptive band for cam-anchored",
        )
        wait_for(
            lambda: len(read_committed(kafka.bootstrap_servers, f"{t['verdicts']}.dlq", idle_s=0.5)) >= 4,
            60,
            "the dead letters of the broken, the tombstone, the non-UTF-8 and the mis-keyed record",
        )
    finally:
        job.terminate()
        job.wait(60)

    final = states()
    alerts = [(s.source_id, s.alert) for s in final if s.alert]
    assert sorted(alerts) == [
        ("cam-anchored", "roadwork_started"),
        ("cam-disagree", "roadwork_started"),
        ("cam-on", "roadwork_started"),
    ]  # once each
    last = {s.source_id: s for s in final}
    assert last["cam-on"].roadwork_active and not last["cam-off"].roadwork_active
    assert last["cam-on"].events == 10  # the mis-keyed record was not folded in
    letters = [
        DeadLetter.model_validate_json(m.value())
        for m in read_committed(kafka.bootstrap_servers, f"{t['verdicts']}.dlq")
    ]
    reasons = ["key_mismatch", "schema_invalid", "schema_invalid", "undecodable"]
    assert sorted(d.reason for d in letters) == reasons
    assert all(d.source_topic == t["verdicts"] and d.partition >= 0 and d.offset >= 0 for d in letters)
    by_value = {base64.b64decode(d.original_value_b64): d for d in letters}
    assert by_value[NOT_UTF8].reason == "schema_invalid"  # the bytes as they came, not a decoding of them
    broken = by_value[b'{"broken": ']
    refused = next(d for d in letters if d.reason == "key_mismatch")
    assert broken.event_id == f"dlq:{t['verdicts']}:{broken.partition}:{broken.offset}"
    assert refused.event_id == mis_keyed.event_id  # the record's own id: one dead letter per record
    assert all(base64.b64decode(d.original_key_b64 or "") == b"cam-x" for d in letters)  # replayable as sent
    assert last["cam-disagree"].disagreement_rate > 0.5
    bands = [b for b in adaptive() if b.source_id == "cam-disagree"]
    assert bands and {b.source_id for b in adaptive()} == {"cam-disagree", "cam-anchored"}
    assert all(0.05 <= b.low < 0.15 and 0.45 < b.high <= 0.8 for b in bands)  # widened, within bounds
    anchored = [b for b in adaptive() if b.source_id == "cam-anchored"]
    # widened from the applied band, not from the configured one, and held within its drift
    assert all(0.25 <= b.low < 0.3 and 0.5 < b.high <= 0.55 for b in anchored), anchored

    book = BandBook(DEFAULT_BAND)
    ThresholdsReader.start(kafka, t["thresholds"], book).close()  # caught up to the end on start
    assert book.for_source("cam-disagree") == Band(bands[-1].low, bands[-1].high)
    assert book.for_source("cam-on") == DEFAULT_BAND
