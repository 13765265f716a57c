"""The benches leave nothing on the broker: the topics a run made (with the ones named after them, such as
`<topic>.dlq`) and its consumer groups are deleted when it ends, and when it fails too."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from apps.bench import sink
from apps.bench.common import Scratch, scratch
from roadwatch.kafka.admin import admin_client, delete_groups, delete_topics, ensure_topics
from roadwatch.kafka.topics import TopicSpec
from roadwatch.settings import KafkaSettings

pytestmark = pytest.mark.integration


def on_broker(kafka: KafkaSettings) -> set[str]:
    """The names of every topic and consumer group the broker lists now."""
    admin = admin_client(kafka.client_config())
    groups = admin.list_consumer_groups(request_timeout=10).result().valid
    return set(admin.list_topics(timeout=10).topics) | {g.group_id for g in groups}


def bench_names(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith(("bench.", "bench-"))}


@pytest.fixture
def scratches(monkeypatch: pytest.MonkeyPatch) -> list[Scratch]:
    """Every Scratch removed during the test, as it was just before its removal."""
    removed: list[Scratch] = []
    remove = Scratch.remove

    def spy(self: Scratch) -> None:
        removed.append(self)
        remove(self)

    monkeypatch.setattr(Scratch, "remove", spy)
    return removed


def test_the_sink_bench_deletes_its_topic_and_its_group(
    kafka: KafkaSettings, scratches: list[Scratch]
) -> None:
    before = bench_names(on_broker(kafka))
    out = sink.run(kafka, rows=2000, flush_rows=1000, rounds=1)
    assert out["rows"] == 2000 and out["commits"] >= 1
    [made] = scratches
    assert len(made.topics) == 1 and len(made.groups) == 1  # the sink is a static member: its group
    # empties only when its session times out (about 45 s), and only then can it be deleted
    after = on_broker(kafka)
    assert not (set(made.topics) | set(made.groups)) & after
    assert bench_names(after) - before == set()


def test_a_failed_sink_bench_cleans_up_too(
    kafka: KafkaSettings, scratches: list[Scratch], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> sink.Timing:
        raise RuntimeError("the sink round failed")

    monkeypatch.setattr(sink, "_sink_round", broken)
    with pytest.raises(RuntimeError, match="the sink round failed"):
        sink.run(kafka, rows=500, flush_rows=500, rounds=1)
    [made] = scratches
    assert made.topics and made.groups  # the topic was filled, the group named
    assert not (set(made.topics) | set(made.groups)) & on_broker(kafka)


def test_scratch_deletes_companions_and_groups_with_offsets(kafka: KafkaSettings) -> None:
    conf = kafka.client_config()
    with pytest.raises(RuntimeError), scratch(kafka) as s:
        topic = s.topic("cleanup", partitions=2, with_dlq=True)
        ensure_topics(conf, [TopicSpec(f"{topic}.other", 1)])  # as a service's auto-created companion
        group = s.group("cleanup")
        consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
        consumer.close()
        assert {topic, f"{topic}.dlq", f"{topic}.other", group} <= on_broker(kafka)
        raise RuntimeError("the bench failed")
    assert not {topic, f"{topic}.dlq", f"{topic}.other", group} & on_broker(kafka)


def test_deleting_what_is_not_there_is_a_no_op(kafka: KafkaSettings) -> None:
    delete_topics(kafka.client_config(), ["bench.never-made.00000000"])
    delete_groups(kafka.client_config(), ["bench-never-made-00000000"])
