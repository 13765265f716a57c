"""Admin operations: idempotent topic creation and deletion, consumer-group deletion, readiness probe, and
consumer-group lag."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from roadwatch.errors import StackError
from roadwatch.kafka.clients import ClientWatch
from roadwatch.kafka.topics import TopicSpec

log = logging.getLogger(__name__)


def admin_client(conf: dict[str, Any]) -> AdminClient:
    """An admin client whose librdkafka logs and errors go through a `ClientWatch`."""
    return AdminClient(ClientWatch(conf).config())


def wait_until_ready(
    conf: dict[str, Any], timeout_s: float = 60.0, gone: Callable[[], str | None] | None = None
) -> None:
    """Block until the cluster answers a metadata request; `gone` as in `ClientWatch.await_cluster`.

    Raises:
        AuthenticationError: the brokers refused the login (at once, not after `timeout_s`).
        StackError: no broker answered within `timeout_s` (the message says why the last connection
            failed and names the bootstrap setting), or `gone` gave a reason.
    """
    watch = ClientWatch(conf, quiet=True)  # "connection refused" is expected while it starts
    watch.await_cluster(AdminClient(watch.config()), timeout_s, gone)


def ensure_topics(conf: dict[str, Any], specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Existing topics are left as is."""
    admin = admin_client(conf)
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [s for s in specs if s.name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [
            NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication, config=s.config)
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


def partition_ids(conf: dict[str, Any], topic: str) -> list[int]:
    """The partitions of `topic`, from its metadata; StackError if it does not exist."""
    md = admin_client(conf).list_topics(topic, timeout=10).topics[topic]
    if md.error is not None:
        raise StackError(f"cannot read the partitions of {topic}: {md.error}")
    return sorted(md.partitions)


def delete_topics(conf: dict[str, Any], names: list[str], timeout_s: float = 30.0) -> None:
    """Delete `names` and wait until the metadata no longer lists them; names that do not exist are skipped.

    Raises:
        StackError: a deletion failed for another reason, or the topics are still listed after `timeout_s`.
    """
    if not names:
        return
    admin = admin_client(conf)
    futures = admin.delete_topics(names, operation_timeout=timeout_s, request_timeout=timeout_s)
    for name, fut in futures.items():
        try:
            fut.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise StackError(f"cannot delete topic {name}: {exc}") from exc
    deadline = time.monotonic() + timeout_s
    while set(names) & set(admin.list_topics(timeout=5).topics):
        if time.monotonic() >= deadline:
            raise StackError(f"topics {names} are still listed {timeout_s}s after their deletion")
        time.sleep(0.2)


def delete_groups(conf: dict[str, Any], ids: list[str], timeout_s: float = 60.0) -> None:
    """Delete the consumer groups `ids` (their committed offsets with them); groups that do not exist are
    skipped. A group that still has members is retried until they leave or their session times out: a static
    member (`group.instance.id`, as the sink's) does not leave on close, so its group empties only when its
    session times out (`session.timeout.ms`, 45 s by default).

    Raises:
        StackError: a deletion failed for another reason, or a group still has members after `timeout_s`.
    """
    admin = admin_client(conf)
    pending = list(ids)
    deadline, told = time.monotonic() + timeout_s, False
    while pending:
        busy = []
        for group, fut in admin.delete_consumer_groups(pending, request_timeout=timeout_s).items():
            try:
                fut.result()
            except KafkaException as exc:
                code = exc.args[0].code()
                if code == KafkaError.NON_EMPTY_GROUP and time.monotonic() < deadline:
                    busy.append(group)
                elif code != KafkaError.GROUP_ID_NOT_FOUND:
                    raise StackError(f"cannot delete consumer group {group}: {exc}") from exc
        if busy and not told:
            log.info("waiting for the members of %s to leave or time out", busy)
            told = True
        pending = busy
        if pending:
            time.sleep(1.0)


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
    consumer = Consumer(
        ClientWatch({**conf, "group.id": "roadwatch-status", "enable.auto.commit": False}).config()
    )
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


@dataclass(frozen=True)
class PartitionReplicas:
    """Where one partition lives: its leader (-1 while none), its replicas and those in sync."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


def brokers(conf: dict[str, Any]) -> list[int]:
    """The ids of the brokers the cluster's metadata lists now."""
    return sorted(admin_client(conf).list_topics(timeout=10).brokers)


def replicas(conf: dict[str, Any]) -> list[PartitionReplicas]:
    """Leader, replicas and in-sync replicas of every partition of every non-internal topic."""
    md = admin_client(conf).list_topics(timeout=10)
    return [
        PartitionReplicas(name, p.id, p.leader, tuple(p.replicas), tuple(p.isrs))
        for name, tmd in sorted(md.topics.items())
        if not name.startswith("__")
        for p in sorted(tmd.partitions.values(), key=lambda p: p.id)
    ]
