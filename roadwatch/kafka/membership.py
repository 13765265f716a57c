"""A watchdog over a consumer's place in its group. A consumer whose session timed out while the group
coordinator was away can stay out of its group inside a live process: its partitions revoked, never assigned
again, the service up and silent (seen in the broker stop-and-restart test). Past `rejoin_timeout_s` out of
the group, `check` raises ConsumerStuckError and the service exits for its supervisor to restart it with a
fresh consumer, as it does for a stuck transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from confluent_kafka import Consumer, TopicPartition

from roadwatch.errors import ConsumerStuckError

Rebalance = Callable[[Consumer, list[TopicPartition]], None]


class Subscriber(Protocol):
    """What the watchdog uses of a consumer."""

    def subscribe(self, topics: list[str], *, on_assign: Rebalance, on_revoke: Rebalance) -> None: ...

    def assignment(self) -> list[TopicPartition]: ...


class Membership:
    """Since when `service`'s consumer is out of its group: from `subscribe` and from the end of every
    revocation's callback (a lost session included) to the next assignment. An assignment with no
    partitions counts as in the group: a member of a group with more members than partitions idles on
    purpose."""

    def __init__(
        self, service: str, rejoin_timeout_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.service, self._limit, self._clock = service, rejoin_timeout_s, clock
        self._out_since: float | None = None

    def subscribe(
        self, consumer: Subscriber, topics: list[str], on_assign: Rebalance, on_revoke: Rebalance
    ) -> None:
        def assigned(c: Consumer, partitions: list[TopicPartition]) -> None:
            self._out_since = None
            on_assign(c, partitions)

        def revoked(c: Consumer, partitions: list[TopicPartition]) -> None:
            try:
                on_revoke(c, partitions)
            finally:  # the service's own work on revocation (the sink's last commit) is not time lost
                self._out_since = self._clock()

        self._out_since = self._clock()
        consumer.subscribe(topics, on_assign=assigned, on_revoke=revoked)

    def check(self, consumer: Subscriber) -> None:
        """Raises:
        ConsumerStuckError: the consumer holds no partition and has been out of its group for longer
            than the limit.
        """
        if self._out_since is None or consumer.assignment():
            return
        out_s = self._clock() - self._out_since
        if out_s > self._limit:
            raise ConsumerStuckError(
                f"{self.service}'s consumer has been out of its group for {out_s:.0f}s "
                f"(rejoin_timeout_s {self._limit:.0f})"
            )
