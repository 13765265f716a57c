"""Fixtures shared by every suite. Integration fixtures get a broker in this order: an existing cluster
(`KAFKA_BOOTSTRAP_SERVERS`), a testcontainers Kafka when a Docker engine answers, else the project's own
local broker (started once per session on its own ports and stopped afterwards)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.clients import consumer as build_consumer
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.topics import TopicSpec
from roadwatch.settings import SHARED_DIR, KafkaSettings

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared models/datasets not found at {SHARED_DIR}")
    return SHARED_DIR


@dataclass(frozen=True)
class Broker:
    """The test session's broker; `outage`/`recover` take it away and bring it back (None where the
    tests cannot: an existing cluster named by KAFKA_BOOTSTRAP_SERVERS)."""

    bootstrap: str
    outage: Callable[[], None] | None = None
    recover: Callable[[], None] | None = None


def _testcontainer() -> Iterator[Broker] | None:
    try:
        import docker
        from docker.errors import DockerException

        docker.from_env().ping()
    except (ImportError, DockerException) as exc:
        log.info("no Docker engine (%s); using the project's local broker", exc)
        return None

    def run() -> Iterator[Broker]:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft() as kafka:
            container = kafka.get_wrapped_container()  # paused, not stopped: its mapped port stays
            yield Broker(kafka.get_bootstrap_server(), container.pause, container.unpause)

    return run()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Kafka broker for this test session."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield Broker(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
        return
    container = _testcontainer()
    if container is not None:
        yield from container
        return
    from roadwatch.stack import control
    from roadwatch.stack.settings import StackSettings

    stack = StackSettings(
        home=tmp_path_factory.mktemp("stack"), port=29092, controller_port=29093, heap="768m"
    )

    def outage() -> None:
        control.down(stack)  # the broker process stops; its data stays

    def recover() -> None:
        control.up(stack)

    control.up(stack)
    try:
        yield Broker(stack.bootstrap, outage, recover)
    finally:
        control.down(stack, wipe=True)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: Broker) -> str:
    """A bootstrap address of the session's broker."""
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def topic_factory(kafka: KafkaSettings) -> Callable[..., str]:
    """Create uuid-named topics: `topic_factory("images")` → `t.images.<uuid>`."""

    def make(prefix: str = "t", partitions: int = 3, config: dict[str, str] | None = None) -> str:
        name = f"t.{prefix}.{uuid.uuid4().hex[:10]}"
        ensure_topics(kafka.client_config(), [TopicSpec(name, partitions, config or {})])
        return name

    return make


@pytest.fixture
def producer_factory(kafka: KafkaSettings) -> Iterator[Callable[..., Producer]]:
    made: list[Producer] = []

    def make(**overrides: object) -> Producer:
        p = idempotent_producer(kafka, **overrides)
        made.append(p)
        return p

    yield make
    for p in made:
        p.flush(10)


@pytest.fixture
def consumer_factory(kafka: KafkaSettings) -> Iterator[Callable[..., Consumer]]:
    made: list[Consumer] = []

    def make(*topics: str, group: str | None = None, **overrides: object) -> Consumer:
        c = build_consumer(kafka, group or f"g.{uuid.uuid4().hex[:10]}", **overrides)
        c.subscribe(list(topics))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
