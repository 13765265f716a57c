"""`roadwatch stack up|down|status`: the broker plus the topics, as one unit."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from roadwatch.kafka import admin
from roadwatch.kafka.topics import all_topics
from roadwatch.settings import KafkaSettings
from roadwatch.stack import acls, broker
from roadwatch.stack.settings import StackSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackStatus:
    pid: int | None
    bootstrap: str
    topics: list[admin.TopicInfo]
    lags: list[admin.GroupLag]


def up(stack: StackSettings) -> KafkaSettings:
    """Start the broker unless running, wait until it answers, create all topics and, with `service_users`,
    each service's ACLs (those missing); returns client settings. A broker that exits while starting fails
    it at once, with what the broker said."""
    broker.start(stack)
    kafka = stack.client_settings()
    admin.wait_until_ready(kafka.client_config(), stack.start_timeout_s, gone=lambda: broker.exited(stack))
    created = admin.ensure_topics(kafka.client_config(), all_topics(stack.partitions, stack.retention_ms))
    granted = acls.apply(kafka.client_config(), acls.plan(stack.service_users)) if stack.service_users else []
    log.info("stack up on %s; %d topics, %d ACLs created", stack.bootstrap, len(created), len(granted))
    return kafka


def running(stack: StackSettings) -> bool:
    """Whether the local broker of `stack` runs (started by an earlier `up`)."""
    return broker.running_pid(stack) is not None


def down(stack: StackSettings, *, wipe: bool = False) -> bool:
    """Stop what `up` started; with `wipe`, delete its data too. True if a broker was running."""
    was_running = broker.stop(stack)
    if wipe:
        broker.wipe(stack)
    return was_running


def status(stack: StackSettings, kafka: KafkaSettings) -> StackStatus:
    """Broker pid, topics with partitions and record counts, consumer-group lag."""
    pid = broker.running_pid(stack)
    if pid is None and kafka.bootstrap_servers == stack.bootstrap:
        return StackStatus(None, kafka.bootstrap_servers, [], [])
    topics, lags = admin.describe(kafka.client_config())
    return StackStatus(pid, kafka.bootstrap_servers, topics, lags)
