"""The test broker's choice (existing cluster, testcontainers, local) and the container's Kafka variables."""

from __future__ import annotations

import pytest

from roadwatch.errors import StackError
from roadwatch.testing import brokers
from roadwatch.testing.settings import TestingSettings


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)


def engine(monkeypatch: pytest.MonkeyPatch, answers: bool) -> None:
    monkeypatch.setattr(brokers, "docker_answers", lambda: (answers, "engine" if answers else "no engine"))


def test_an_existing_cluster_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    engine(monkeypatch, True)
    assert brokers.choose(TestingSettings()).kind == "existing"


@pytest.mark.usefixtures("no_cluster")
@pytest.mark.parametrize(("answers", "kind"), [(True, "testcontainers"), (False, "local")])
def test_auto_takes_testcontainers_only_where_an_engine_answers(
    monkeypatch: pytest.MonkeyPatch, answers: bool, kind: str
) -> None:
    engine(monkeypatch, answers)
    assert brokers.choose(TestingSettings(broker="auto")).kind == kind


@pytest.mark.usefixtures("no_cluster")
def test_a_pinned_choice_wins_and_testcontainers_without_an_engine_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine(monkeypatch, True)
    assert brokers.choose(TestingSettings(broker="local")).kind == "local"
    engine(monkeypatch, False)
    with pytest.raises(StackError, match="no engine"):
        brokers.choose(TestingSettings(broker="testcontainers"))


def test_kafka_env_follows_the_image_convention() -> None:
    env = brokers.kafka_env(40000, 40001, partitions=3)
    assert env["KAFKA_LISTENERS"] == "PLAINTEXT://127.0.0.1:40000,CONTROLLER://127.0.0.1:40001"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@127.0.0.1:40001"
    assert env["KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_NUM_PARTITIONS"] == "3"
    assert all(k.startswith("KAFKA_") and k.isupper() for k in env)
