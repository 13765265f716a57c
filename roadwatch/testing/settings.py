"""Settings of the test fixtures (`ROADWATCH_TESTING_*`, `[testing]`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.settings import ComponentSettings
from roadwatch.stack import versions

DEFAULT_KAFKA_IMAGE = f"apache/kafka:{versions.KAFKA}"


class TestingSettings(ComponentSettings):
    """Which broker the fixtures use and how they start it."""

    __test__ = False  # not a test class, whatever pytest's name pattern says
    section: ClassVar[str] = "testing"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_TESTING_", frozen=True, extra="forbid")

    broker: Literal["auto", "testcontainers", "local"] = Field(
        "auto",
        description="auto: KAFKA_BOOTSTRAP_SERVERS, else testcontainers when Docker answers, else local",
    )
    kafka_image: str = Field(DEFAULT_KAFKA_IMAGE, description="the testcontainers Kafka image (KAFKA_* env)")
    host_network: bool = Field(
        True, description="run the container on the host's network, on free loopback ports (no port mapping)"
    )
    partitions: int = Field(3, ge=1)
    start_timeout_s: float = Field(90.0, gt=0)
    # the local broker (Java, the embedded stack's jars): its own ports, apart from `roadwatch stack up`'s
    local_port: int = Field(29092, ge=1, le=65535)
    local_controller_port: int = Field(29093, ge=1, le=65535)
    local_heap: str = "768m"
    local_home: Path | None = Field(None, description="default: a temporary folder of the test session")
