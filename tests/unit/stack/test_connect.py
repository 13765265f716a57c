"""The Kafka Connect worker's and the Iceberg sink connector's property files (pure builders)."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from roadwatch.errors import StackError
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.settings import KafkaSettings
from roadwatch.stack import connect


def _parse(text: str) -> dict[str, str]:
    lines = [ln for ln in text.splitlines() if ln]
    return dict(ln.split("=", 1) for ln in lines)


def test_worker_properties_name_the_loopback_listener_plugins_and_schemaless_json(tmp_path: Path) -> None:
    w = connect.worker_for(
        KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        tmp_path,
        18083,
        tmp_path / "plugins",
        offset_flush_interval_ms=250,
        consumer={"max.poll.records": "2000"},
    )
    props = _parse(connect.worker_properties(w))
    assert props["bootstrap.servers"] == "127.0.0.1:1"
    assert props["listeners"] == "http://127.0.0.1:18083"
    assert props["offset.storage.file.filename"] == str(tmp_path / "connect.offsets")
    assert props["plugin.path"] == str(tmp_path / "plugins")
    assert props["plugin.discovery"] == "service_load"
    assert props["offset.flush.interval.ms"] == "250"
    assert props["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert props["value.converter.schemas.enable"] == "false"
    assert props["consumer.max.poll.records"] == "2000"


def test_a_sasl_login_is_refused_rather_than_dropped(tmp_path: Path) -> None:
    kafka = KafkaSettings(sasl_mechanism="PLAIN", sasl_username="u", sasl_password=SecretStr("p"))
    with pytest.raises(StackError, match="SASL"):
        connect.worker_for(kafka, tmp_path, 1, tmp_path)


def _sink(**kw: object) -> connect.IcebergSink:
    base: dict[str, object] = {
        "name": "peer",
        "topic": "bench.v",
        "table": "ns.verdicts",
        "control_topic": "bench.control",
        "catalog": {"type": "rest", "uri": "http://127.0.0.1:9"},
    }
    return connect.IcebergSink(**{**base, **kw})  # type: ignore[arg-type]


def test_connector_properties_write_into_the_existing_table_with_the_kafka_coordinates() -> None:
    props = _parse(connect.connector_properties(_sink(commit_interval_ms=500, tasks=2)))
    assert props["connector.class"] == "org.apache.iceberg.connect.IcebergSinkConnector"
    assert props["topics"] == "bench.v"
    assert props["iceberg.tables"] == "ns.verdicts"
    assert props["iceberg.tables.auto-create-enabled"] == "false"
    assert props["iceberg.tables.evolve-schema-enabled"] == "false"
    assert props["iceberg.control.topic"] == "bench.control"
    assert props["iceberg.control.commit.interval-ms"] == "500"
    assert props["iceberg.control.commit.timeout-ms"] == "30000"
    assert props["iceberg.control.group-id-prefix"] == "cg-control-peer-"
    assert props["tasks.max"] == "2"
    assert props["iceberg.catalog.type"] == "rest"
    assert props["iceberg.catalog.uri"] == "http://127.0.0.1:9"
    assert props["transforms.kafka.type"] == "org.apache.kafka.connect.transforms.InsertField$Value"
    fields = {props[f"transforms.kafka.{k}.field"] for k in ("topic", "partition", "offset")}
    assert fields == {"kafka_topic", "kafka_partition", "kafka_offset"}
    assert _sink().group_id == "connect-peer"


def test_a_line_break_in_a_value_is_refused() -> None:
    with pytest.raises(StackError, match="line break"):
        connect.connector_properties(_sink(topic="a\nb=c"))


def test_catalog_properties_pass_the_s3_endpoint_and_keys_on() -> None:
    settings = CatalogSettings(
        type="rest",
        uri="http://127.0.0.1:19181",
        warehouse="s3://warehouse/",
        s3_endpoint="http://127.0.0.1:19000",
        s3_access_key_id="rw",
        s3_secret_access_key=SecretStr("secret"),
    )
    props = connect.catalog_properties(settings)
    assert props["type"] == "rest" and props["uri"] == "http://127.0.0.1:19181"
    assert props["io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert props["s3.endpoint"] == "http://127.0.0.1:19000"
    assert props["s3.path-style-access"] == "true"
    assert (props["s3.access-key-id"], props["s3.secret-access-key"]) == ("rw", "secret")


def test_a_file_warehouse_needs_no_s3_properties() -> None:
    props = connect.catalog_properties(
        CatalogSettings(type="rest", uri="http://127.0.0.1:1", warehouse="file:///tmp/w")
    )
    assert props == {"type": "rest", "uri": "http://127.0.0.1:1", "warehouse": "file:///tmp/w"}


def test_the_connector_cannot_open_a_sqlite_catalog(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="REST"):
        connect.catalog_properties(CatalogSettings(warehouse=str(tmp_path)))
