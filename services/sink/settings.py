"""Sink settings (`ROADWATCH_SINK_*`): catalog, flush policy, topics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from roadwatch.kafka.topics import DETECTIONS, SOURCE_STATE, VERDICTS
from roadwatch.settings import DEFAULT_HOME, ComponentSettings


class CatalogSettings(ComponentSettings):
    """Where the Iceberg tables live: SQLite SqlCatalog + local files (default) or a REST catalog + S3."""

    section: ClassVar[str] = "catalog"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_CATALOG_", frozen=True, extra="forbid")

    type: Literal["sql", "rest"] = "sql"
    name: str = "roadwatch"
    uri: str | None = None
    warehouse: str = str(DEFAULT_HOME / "warehouse")
    namespace: str = "roadwatch"
    s3_endpoint: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"

    def properties(self) -> dict[str, Any]:
        """pyiceberg `load_catalog` properties."""
        if self.type == "sql":
            Path(self.warehouse).mkdir(parents=True, exist_ok=True)
            uri = self.uri or f"sqlite:///{Path(self.warehouse) / 'catalog.db'}"
            return {"type": "sql", "uri": uri, "warehouse": f"file://{Path(self.warehouse).resolve()}"}
        props: dict[str, Any] = {
            "type": "rest",
            "uri": self.uri or "http://iceberg-rest:8181",
            "warehouse": self.warehouse,
            "s3.region": self.s3_region,
        }
        if self.s3_endpoint:
            props["s3.endpoint"] = self.s3_endpoint
        if self.s3_access_key_id:
            props["s3.access-key-id"] = self.s3_access_key_id
        if self.s3_secret_access_key:
            props["s3.secret-access-key"] = self.s3_secret_access_key.get_secret_value()
        return props


class SinkSettings(ComponentSettings):
    section: ClassVar[str] = "sink"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_SINK_", frozen=True, extra="forbid")

    detections_topic: str = DETECTIONS
    verdicts_topic: str = VERDICTS
    source_state_topic: str = SOURCE_STATE
    dlq_pattern: str = r"^.*\.v1\.dlq$"
    group_id: str = "roadwatch-sink"
    instance_id: str = "0"  # static group membership: a restarted instance takes its partitions straight back
    flush_rows: int = Field(50_000, ge=1)
    flush_interval_ms: int = Field(2_000, ge=10)
    max_poll_records: int = Field(10_000, ge=1)
    commit_retries: int = Field(8, ge=0)
    metrics_port: int = Field(9103, ge=0, le=65535)

    def table_for(self, topic: str) -> str:
        """Which table a topic feeds (every dead-letter topic feeds `dead_letters`)."""
        mapping = {
            self.detections_topic: "detections",
            self.verdicts_topic: "verdicts",
            self.source_state_topic: "source_state",
        }
        if topic in mapping:
            return mapping[topic]
        if topic.endswith(".dlq"):
            return "dead_letters"
        raise ValueError(f"no table for topic {topic!r}")
