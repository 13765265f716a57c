"""The consumer-group watchdog: out of the group past the limit ends the service, idling in it does not."""

import pytest
from confluent_kafka import Consumer, TopicPartition

from roadwatch.errors import ConsumerStuckError, StuckError
from roadwatch.kafka.membership import Membership, Rebalance

LIMIT_S = 120.0


class GroupConsumer:
    """A consumer whose rebalances the test drives: the callbacks it was given, and its assignment."""

    def __init__(self) -> None:
        self.held: list[TopicPartition] = []
        self.calls: list[str] = []

    def subscribe(self, topics: list[str], *, on_assign: Rebalance, on_revoke: Rebalance) -> None:
        self._assign, self._revoke = on_assign, on_revoke

    def assignment(self) -> list[TopicPartition]:
        return self.held

    def assign(self, partitions: list[int]) -> None:
        self.held = [TopicPartition("in", p) for p in partitions]
        self._assign(self, self.held)  # type: ignore[arg-type]

    def revoke(self) -> None:
        self._revoke(self, self.held)  # type: ignore[arg-type]
        self.held = []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watched() -> tuple[Membership, GroupConsumer, Clock]:
    clock, group = Clock(), GroupConsumer()
    membership = Membership("vlm-fast", LIMIT_S, clock)

    def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
        group.calls.append(f"assign {len(partitions)}")

    def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
        group.calls.append(f"revoke {len(partitions)}")

    membership.subscribe(group, ["in"], on_assign, on_revoke)
    return membership, group, clock


def test_revoked_and_never_assigned_again_past_the_limit_ends_the_service() -> None:
    membership, group, clock = watched()
    group.assign([0, 1, 2])
    clock.now += 3600
    membership.check(group)  # holding partitions, however long
    group.revoke()  # the session timed out while the coordinator was away
    clock.now += LIMIT_S
    membership.check(group)
    clock.now += 1
    with pytest.raises(ConsumerStuckError, match="vlm-fast's consumer has been out of its group for 121s"):
        membership.check(group)
    assert group.calls == ["assign 3", "revoke 3"], "the service's own callbacks still run"


def test_the_watch_counts_from_the_latest_revocation() -> None:
    membership, group, clock = watched()
    group.assign([0, 1])
    group.revoke()
    clock.now += LIMIT_S - 1
    group.assign([1])  # rejoined in time
    clock.now += LIMIT_S * 10
    group.revoke()
    clock.now += LIMIT_S - 1  # far past the limit since the first revocation, within it since this one
    membership.check(group)
    clock.now += 2
    with pytest.raises(ConsumerStuckError):
        membership.check(group)


def test_the_services_own_work_on_revocation_is_not_time_out_of_the_group() -> None:
    clock, group = Clock(), GroupConsumer()
    membership = Membership("sink", LIMIT_S, clock)

    def slow_flush(c: Consumer, partitions: list[TopicPartition]) -> None:
        clock.now += LIMIT_S * 2  # the sink's last Iceberg commit before it lets its partitions go

    membership.subscribe(group, ["in"], lambda c, p: None, slow_flush)
    group.assign([0])
    group.revoke()
    membership.check(group)
    clock.now += LIMIT_S + 1
    with pytest.raises(ConsumerStuckError):
        membership.check(group)


def test_an_idle_member_of_a_group_with_more_members_than_partitions_stays() -> None:
    membership, group, clock = watched()
    group.assign([])
    clock.now += LIMIT_S * 10
    membership.check(group)


def test_never_assigned_after_subscribing_is_stuck_too() -> None:
    membership, group, clock = watched()
    clock.now += LIMIT_S + 1
    with pytest.raises(StuckError):  # the exit code for a restart: serving catches every StuckError
        membership.check(group)
