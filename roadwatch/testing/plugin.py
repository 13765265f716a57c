"""The pytest fixtures of `roadwatch.testing` (registered by the `pytest11` entry point). Session scope: one
broker per test run; function scope: fresh uuid-named topics, clients closed afterwards, a new catalog."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from pyiceberg.catalog import Catalog

from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.clients import consumer as build_consumer
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.topics import TopicSpec
from roadwatch.settings import KafkaSettings
from roadwatch.testing.brokers import Broker, session_broker
from roadwatch.testing.settings import TestingSettings

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def roadwatch_testing() -> TestingSettings:
    """The fixtures' settings (`ROADWATCH_TESTING_*`); override this fixture to change their defaults."""
    return TestingSettings()


@pytest.fixture(scope="session")
def kafka_broker(
    roadwatch_testing: TestingSettings, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Broker]:
    """A real Kafka broker for this test session; its choice is printed in one line."""
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")

    def announce(line: str) -> None:
        log.info("%s", line)
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    with session_broker(roadwatch_testing, tmp_path_factory.mktemp("stack"), announce) as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: Broker) -> str:
    """A bootstrap address of the session's broker."""
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    """Client settings for the session's broker."""
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
    """Idempotent producers (librdkafka overrides as keyword arguments), flushed afterwards."""
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
    """Consumers subscribed to `topics` (a uuid group unless named), closed afterwards."""
    made: list[Consumer] = []

    def make(*topics: str, group: str | None = None, **overrides: object) -> Consumer:
        c = build_consumer(kafka, group or f"g.{uuid.uuid4().hex[:10]}", **overrides)
        c.subscribe(list(topics))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def catalog_settings(tmp_path: Path) -> CatalogSettings:
    """Settings of a throw-away Iceberg catalog: SQLite and a file warehouse under the test's tmp_path."""
    return CatalogSettings(
        type="sql", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "warehouse")
    )


@pytest.fixture
def iceberg_catalog(catalog_settings: CatalogSettings) -> Catalog:
    """A throw-away Iceberg catalog (pyiceberg), empty; `ensure_tables` (roadwatch.iceberg) adds ours."""
    return open_catalog(catalog_settings)
