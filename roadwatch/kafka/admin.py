"""Admin operations: idempotent topic creation, readiness probe, and consumer-group lag."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from roadwatch.errors import StackError
from roadwatch.kafka.topics import TopicSpec


def admin_client(conf: dict[str, Any]) -> AdminClient:
    return AdminClient(conf)


def wait_until_ready(conf: dict[str, Any], timeout_s: float = 60.0) -> None:
    """Block until the cluster answers a metadata request, or raise StackError (with the last error)."""
    deadline = time.monotonic() + timeout_s
    admin = admin_client({**conf, "log_level": 2})  # "connection refused" is expected while it starts
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(timeout=2)
            if md.brokers:
                return
        except KafkaException as exc:
            last = exc
        time.sleep(0.5)
    raise StackError(f"Kafka at {conf.get('bootstrap.servers')} did not answer within {timeout_s}s: {last}")


def ensure_topics(conf: dict[str, Any], specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Existing topics are left as is."""
    admin = admin_client(conf)
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [s for s in specs if s.name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [
            NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, config=s.config)
            for s in wanted
        ],
        request_timeout=timeout_s,
    )
    created = []
    for name, fut in futures.items():
        try:
            fut.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise StackError(f"cannot create topic {name}: {exc}") from exc
    _wait_for_leaders(admin, [s.name for s in specs], timeout_s)
    return created


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """Block until every partition of `names` has a leader (creation is asynchronous in KRaft)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=5).topics
        if all(
            n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values())
            for n in names
        ):
            return
        time.sleep(0.2)
    raise StackError(f"topics {names} have no leaders after {timeout_s}s")


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    end_offsets: int


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    lag: int


def describe(conf: dict[str, Any]) -> tuple[list[TopicInfo], list[GroupLag]]:
    """Topics with partition counts and message totals, and per-group lag per topic."""
    from confluent_kafka import Consumer

    admin = admin_client(conf)
    md = admin.list_topics(timeout=10)
    consumer = Consumer({**conf, "group.id": "roadwatch-status", "enable.auto.commit": False})
    try:
        high: dict[tuple[str, int], int] = {}
        infos = []
        for name, tmd in sorted(md.topics.items()):
            if name.startswith("__"):
                continue
            total = 0
            for p in tmd.partitions:
                lo, hi = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=5)
                high[(name, p)] = hi
                total += hi - lo
            infos.append(TopicInfo(name, len(tmd.partitions), total))
        lags: list[GroupLag] = []
        groups = admin.list_consumer_groups(request_timeout=10).result()
        for g in sorted(groups.valid, key=lambda g: g.group_id):
            if g.group_id == "roadwatch-status":
                continue
            res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g.group_id)])
            per_topic: dict[str, int] = {}
            for tp in res[g.group_id].result().topic_partitions:
                if tp.offset >= 0:
                    per_topic[tp.topic] = (
                        per_topic.get(tp.topic, 0) + high.get((tp.topic, tp.partition), 0) - tp.offset
                    )
            lags.extend(GroupLag(g.group_id, t, lag) for t, lag in sorted(per_topic.items()))
        return infos, lags
    finally:
        consumer.close()
