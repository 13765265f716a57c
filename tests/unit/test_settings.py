from pathlib import Path

import pytest
from pydantic import ValidationError

from roadwatch.errors import ConfigError
from roadwatch.kafka.topics import THRESHOLDS, all_topics, dlq, escalations
from roadwatch.settings import KafkaSettings
from roadwatch.stack.broker import server_properties
from roadwatch.stack.settings import StackSettings


def test_env_prefix_and_secret_passthrough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", "k:9092")
    monkeypatch.setenv("ROADWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ROADWATCH_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("ROADWATCH_KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("ROADWATCH_KAFKA_SASL_PASSWORD", "s3cret")
    s = KafkaSettings()
    conf = s.client_config()
    assert conf["bootstrap.servers"] == "k:9092"
    assert conf["sasl.password"] == "s3cret"
    assert "s3cret" not in repr(s)


def test_conventional_bootstrap_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    assert KafkaSettings().bootstrap_servers == "elsewhere:9092"


def test_config_file_section_and_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "roadwatch.toml"
    cfg.write_text("[stack]\nport = 31000\npartitions = 6\n")
    monkeypatch.setenv("ROADWATCH_CONFIG", str(cfg))
    monkeypatch.setenv("ROADWATCH_STACK_PARTITIONS", "2")
    s = StackSettings()
    assert (s.port, s.partitions) == (31000, 2)


def test_malformed_values_fail_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADWATCH_STACK_PORT", "not-a-port")
    with pytest.raises(ValidationError):
        StackSettings()
    monkeypatch.delenv("ROADWATCH_STACK_PORT")
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[stack\n")
    monkeypatch.setenv("ROADWATCH_CONFIG", str(cfg))
    with pytest.raises(ConfigError):
        StackSettings()


def test_server_properties_single_node_kraft(tmp_path: Path) -> None:
    props = server_properties(StackSettings(home=tmp_path, port=1234, controller_port=1235))
    assert "process.roles=broker,controller" in props
    assert "listeners=PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:1235" in props
    assert "offsets.topic.replication.factor=1" in props
    assert f"log.dirs={tmp_path / 'kafka-data'}" in props


def test_topics_are_versioned_and_thresholds_compacted() -> None:
    specs = {s.name: s for s in all_topics(partitions=4)}
    assert specs[THRESHOLDS].config == {"cleanup.policy": "compact"}
    assert {"images.v1", "detections.v1", "verdicts.v1", escalations("power"), dlq("images.v1")} <= set(specs)
    assert all(s.partitions == 4 for s in specs.values())
    with pytest.raises(ValueError):
        escalations("turbo")


def test_prefixed_bootstrap_wins_over_conventional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", "ours:9092")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    assert KafkaSettings().bootstrap_servers == "ours:9092"
    assert KafkaSettings(bootstrap_servers="given:1").bootstrap_servers == "given:1"
