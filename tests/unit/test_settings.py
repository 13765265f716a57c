from pathlib import Path

import pytest
from pydantic import ValidationError

from roadwatch import settings
from roadwatch.errors import ConfigError
from roadwatch.iceberg.settings import CatalogSettings
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
    assert specs[THRESHOLDS].config == {"cleanup.policy": "compact", "min.insync.replicas": "1"}
    assert {"images.v1", "detections.v1", "verdicts.v1", escalations("power"), dlq("images.v1")} <= set(specs)
    assert all(s.partitions == 4 for s in specs.values())
    with pytest.raises(ValueError):
        escalations("turbo")


def test_replicated_topics_need_a_quorum_of_replicas_for_a_write() -> None:
    specs = all_topics(replication=3, min_insync=2)
    assert {(s.replication, s.config["min.insync.replicas"]) for s in specs} == {(3, "2")}


def test_prefixed_bootstrap_wins_over_conventional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", "ours:9092")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    assert KafkaSettings().bootstrap_servers == "ours:9092"
    assert KafkaSettings(bootstrap_servers="given:1").bootstrap_servers == "given:1"


def test_cluster_profile_points_clients_at_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "DEFAULT_HOME", tmp_path)
    monkeypatch.delenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert (CatalogSettings().type, KafkaSettings().bootstrap_servers) == ("sql", "127.0.0.1:19092")
    monkeypatch.setenv("ROADWATCH_PROFILE", "cluster")
    (tmp_path / "cluster").mkdir()
    (tmp_path / "cluster" / "credentials.toml").write_text(
        '[catalog]\ns3_access_key_id = "id"\ns3_secret_access_key = "sekrit"\n'
    )
    catalog = CatalogSettings()
    assert (catalog.type, catalog.s3_access_key_id) == ("rest", "id")
    assert catalog.properties()["s3.secret-access-key"] == "sekrit"
    assert len(KafkaSettings().bootstrap_servers.split(",")) == 3
    # the user's file and the environment still win over the profile
    cfg = tmp_path / "roadwatch.toml"
    cfg.write_text('[catalog]\nuri = "http://catalog.example:8181"\n')
    monkeypatch.setenv("ROADWATCH_CONFIG", str(cfg))
    monkeypatch.setenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", "k:9092")
    assert CatalogSettings().uri == "http://catalog.example:8181"
    assert KafkaSettings().bootstrap_servers == "k:9092"
    monkeypatch.setenv("ROADWATCH_PROFILE", "cloud")
    with pytest.raises(ConfigError, match="ROADWATCH_PROFILE='cloud'"):
        KafkaSettings()
