"""Settings of the cluster profile's local stack (`ROADWATCH_CLUSTER_*`, `[cluster]`). The addresses are the
ones `roadwatch/profiles/cluster.toml` points every client at: change one and set the client side too."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.settings import ComponentSettings, profile_home


class ClusterSettings(ComponentSettings):
    """Ports, sizes and replication of the local cluster."""

    section: ClassVar[str] = "cluster"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_CLUSTER_", frozen=True, extra="forbid")

    home: Path = Field(default_factory=lambda: profile_home("cluster"))
    cache_dir: Path = Path.home() / ".cache" / "roadwatch"
    host: str = "127.0.0.1"
    # node n listens for clients on kafka_ports[n-1] and for the KRaft quorum on the port after it
    kafka_ports: tuple[int, ...] = (19192, 19292, 19392)
    kafka_heap: str = "512m"
    partitions: int = Field(3, ge=1)
    replication: int = Field(3, ge=1)
    min_insync: int = Field(2, ge=1)
    retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=60_000)
    s3_port: int = Field(19000, ge=1, le=65535)
    s3_access_key_id: str = "roadwatch"
    bucket: str = "warehouse"
    rest_port: int = Field(19181, ge=1, le=65535)
    flink_rest_port: int = Field(19081, ge=1, le=65535)
    flink_rpc_port: int = Field(19123, ge=1, le=65535)
    # Flink's Prometheus reporter: the JobManager and each TaskManager take the next free port of the range
    flink_metrics_ports: str = "19249-19259"
    flink_slots: int = Field(4, ge=1)
    flink_jobmanager_memory: str = "768m"
    flink_taskmanager_memory: str = "1536m"
    prometheus: bool = Field(True, description="start Prometheus (Debian's package) with the stack")
    prometheus_port: int = Field(19090, ge=1, le=65535)
    start_timeout_s: float = 170.0

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{self.host}:{port}" for port in self.kafka_ports)

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.host}:{self.s3_port}"

    @property
    def rest_uri(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    @property
    def flink_rest(self) -> str:
        return f"http://{self.host}:{self.flink_rest_port}"

    @property
    def credentials_file(self) -> Path:
        """The S3 secret `stack up` draws once; the cluster profile's settings read it."""
        return self.home / "credentials.toml"
