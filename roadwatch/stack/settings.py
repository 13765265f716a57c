"""Settings of the local stack (`ROADWATCH_STACK_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from roadwatch.settings import DEFAULT_HOME, ComponentSettings


class StackSettings(ComponentSettings):
    """Where the local broker lives, which Kafka it runs and how topics are made."""

    section: ClassVar[str] = "stack"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_STACK_", frozen=True, extra="forbid")

    home: Path = DEFAULT_HOME / "stack"
    cache_dir: Path = Path.home() / ".cache" / "roadwatch"
    kafka_version: str = "4.1.1"
    host: str = "127.0.0.1"
    port: int = Field(19092, ge=1, le=65535)
    controller_port: int = Field(19093, ge=1, le=65535)
    partitions: int = Field(3, ge=1)
    retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=60_000)
    heap: str = "1g"
    sasl_port: int | None = Field(None, ge=1, le=65535, description="extra SASL_PLAINTEXT (PLAIN) listener")
    sasl_users: dict[str, SecretStr] = Field(default_factory=dict)
    start_timeout_s: float = 90.0

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "kafka-data"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"
