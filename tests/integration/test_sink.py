"""The sink on the real broker and a real Iceberg catalog: SIGKILLs at random moments lose and duplicate
nothing."""

import random
import re
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec
from roadwatch.settings import KafkaSettings
from tests.factories import dead_letter_record, detection_result, source_state, verdict
from tests.helpers import wait_for, warehouse_catalog
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration

COUNTS = {"verdicts": 8000, "detections": 8000, "source_state": 3000, "dead_letters": 1000}
BAD_VERDICTS = 5


def sink_env(
    kafka: KafkaSettings, topics: dict[str, str], warehouse: Path, dlq_pattern: str
) -> dict[str, str]:
    return {
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_SINK_VERDICTS_TOPIC": topics["verdicts"],
        "ROADWATCH_SINK_DETECTIONS_TOPIC": topics["detections"],
        "ROADWATCH_SINK_SOURCE_STATE_TOPIC": topics["source_state"],
        "ROADWATCH_SINK_DLQ_PATTERN": dlq_pattern,
        "ROADWATCH_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}",
        "ROADWATCH_SINK_FLUSH_ROWS": "1500",
        "ROADWATCH_SINK_FRESHNESS_MS": "300",
        "ROADWATCH_SINK_METRICS_PORT": "0",
        "ROADWATCH_CATALOG_WAREHOUSE": str(warehouse),
    }


def counts(warehouse: Path) -> dict[str, Counter[str]]:
    catalog = warehouse_catalog(warehouse)
    if catalog is None:
        return {}  # the sink has not started yet
    out = {}
    for name in COUNTS:
        try:
            ids = catalog.load_table(f"roadwatch.{name}").scan(selected_fields=("event_id",)).to_arrow()
        except Exception:  # noqa: BLE001 - tables appear once the sink has started
            return {}
        out[name] = Counter(ids.column("event_id").to_pylist())
    return out


def test_sigkill_at_random_moments_neither_loses_nor_duplicates(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    topics = {n: topic_factory(n) for n in ("verdicts", "detections", "source_state")}
    tag = uuid.uuid4().hex[:10]
    topics["dead_letters"] = f"t.sinkdlq.{tag}.dlq"
    ensure_topics(kafka.client_config(), [TopicSpec(topics["dead_letters"], 3)])
    makers = {
        "verdicts": verdict,
        "detections": detection_result,
        "source_state": source_state,
        "dead_letters": dead_letter_record,
    }
    expected: dict[str, set[str]] = {n: set() for n in COUNTS}
    producer = producer_factory()

    def produce_all() -> None:
        for i in range(max(COUNTS.values())):
            for name, n in COUNTS.items():
                if i < n:
                    rec = (
                        makers[name](i, source=f"cam-{i % 7}") if name != "dead_letters" else makers[name](i)
                    )
                    expected[name].add(rec.event_id)
                    producer.produce(
                        topics[name], key=rec.source_id.encode(), value=rec.model_dump_json().encode()
                    )
            if i % 1000 == 0:
                producer.poll(0)
                time.sleep(1.0)  # let the records flow while the sink is being killed
            if i < BAD_VERDICTS:
                producer.produce(topics["verdicts"], key=b"cam-x", value=b'{"not": "a verdict"')
        producer.flush(30)

    warehouse = tmp_path / "warehouse"
    env = sink_env(kafka, topics, warehouse, rf"^t\.sinkdlq\.{tag}\.dlq$")
    log = tmp_path / "sink.log"
    feeder = threading.Thread(target=produce_all)
    sink = ServiceProcess("services.sink", env, log).start()
    feeder.start()
    rng = random.Random(7)
    kills = 0

    def resumes() -> list[str]:
        return [line for line in log.read_text().splitlines() if "resuming from the tables' offsets" in line]

    try:  # whatever fails, the sink of the moment is stopped (a failed wait would leave it running)
        for k in range(4):
            wait_for(lambda k=k: len(resumes()) > k, 60, "the sink to take its partitions")
            if k == 0:  # the first run commits once, so that every restart has offsets to resume from
                wait_for(lambda: sum(sum(c.values()) for c in counts(warehouse).values()) > 0, 60, "a commit")
            time.sleep(rng.uniform(0.5, 2.5))
            sink.kill()
            kills += 1
            sink = ServiceProcess("services.sink", env, log).start()
        feeder.join()
        total = sum(COUNTS.values()) + BAD_VERDICTS
        wait_for(
            lambda: sum(sum(c.values()) for c in counts(warehouse).values()) >= total,
            180,
            f"{total} rows in Iceberg",
        )
        time.sleep(2)
    finally:
        sink.stop()

    final = counts(warehouse)
    assert kills == 4
    assert len(resumes()) >= 4
    resumed_at = [max(int(o) for o in re.findall(r", (-?\d+)\)", line)) for line in resumes()[1:]]
    assert all(offset > 0 for offset in resumed_at), f"every restart resumed mid-stream: {resumed_at}"
    for name in ("verdicts", "detections", "source_state"):
        assert set(final[name]) == expected[name], name
        assert max(final[name].values()) == 1, f"duplicates in {name}"
    letters = final["dead_letters"]
    assert expected["dead_letters"] <= set(letters)
    assert max(letters.values()) == 1
    assert len(letters) == COUNTS["dead_letters"] + BAD_VERDICTS
