"""Settings of the Flink job (`ROADWATCH_FLINK_*`, `[flink]`), strict like every service's: a malformed
value fails at start-up. Kafka comes from the same `KafkaSettings` (`ROADWATCH_KAFKA_*`) as every service,
SASL included, turned into the Java client's properties for the Kafka SQL connector."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from flink_jobs.state_machine import Config
from roadwatch.kafka.topics import DETECTIONS, SOURCE_STATE, THRESHOLDS, VERDICTS
from roadwatch.settings import DEFAULT_HOME, METRICS_PORTS, ComponentSettings, KafkaSettings

CONNECTOR = "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2"
CHECKPOINTS_ROOT = DEFAULT_HOME / "flink" / "checkpoints"  # one directory per group_id below it
# The job's operator layout. Checkpoints of another layout cannot be mapped onto this one, so each layout
# keeps its own: after an upgrade the job starts from the group's committed offsets instead of failing.
# 3: values are BYTES, not STRING (the batching window's state changed type).
# 4: a batch is parallel arrays (kinds, partitions, offsets, values), not an array of rows.
LAYOUT = 4
# The SQL connector relocates the Kafka client's classes: its login modules live under this prefix.
SHADED = "org.apache.flink.kafka.shaded."
LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


class FlinkSettings(ComponentSettings):
    section: ClassVar[str] = "flink"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_FLINK_", frozen=True, extra="forbid")

    detections_topic: str = DETECTIONS
    verdicts_topic: str = VERDICTS
    state_topic: str = SOURCE_STATE
    thresholds_topic: str = THRESHOLDS
    group_id: str = "roadwatch-flink"
    checkpoint_ms: int = Field(5000, ge=100)
    batch_ms: int = Field(200, ge=1)
    # 2: the keyed Python operator is what bounds the job, and each subtask gets its own Python worker
    parallelism: int = Field(2, ge=1)
    # local mini-cluster only: "process" gives each Python operator subtask a worker process of its own (as a
    # cluster does); "loopback" runs them all inside the submitting process, under one GIL
    python_workers: Literal["process", "loopback"] = "process"
    # Options of the JVM PyFlink starts in this process, unless `JVM_ARGS` is set: the local mini-cluster,
    # where the job runs (detached: only the submitting client). A heap of its own, not a quarter of the
    # machine (the keyed state is one small pickled State per source, a batch window 200 ms of records: 256 MB
    # held 1M backlogged events at full speed, and committed 390 MB of 640 when it could), and C1 only: on 2
    # cores C2's compiling costs a run of minutes more than it gains (bench/RESULTS.md). Drop
    # `-XX:TieredStopAtLevel=1` for a job that runs for hours.
    jvm_args: str = "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
    state_ttl_days: int = Field(7, ge=1)
    checkpoint_dir: Path | None = Field(
        None, description="default: <ROADWATCH_HOME>/flink/checkpoints/<group>"
    )
    restore: bool = True
    # submit to a session cluster (`flink run -d`, the cluster profile) and return, instead of running the
    # job here and serving its readiness until stopped
    detached: bool = False
    jar_cache: Path = Path.home() / ".cache" / "roadwatch"
    emit_every: int = Field(10, ge=1)
    min_evidence: int = Field(5, ge=1)
    lateness_s: float = Field(300.0, ge=0)
    metrics_port: int = Field(METRICS_PORTS["flink"], ge=0, le=65535)

    @property
    def network_memory_mb(self) -> int:
        """The local mini-cluster's network buffers. Flink's default (64 MB) is direct memory a job of
        parallelism 2 does not need; what one needs grows with the square of its parallelism: per subtask
        and exchange, an input gate's 2 buffers per channel (one channel per upstream subtask) + 8 floating,
        and an output's one per subpartition + 1, in 32 KB segments. Counted here for 5 exchanges: the job
        has 4 (out of each of its 3 sources into the window, and the keyBy into Python; the sink is chained
        to the Python operator), and one to spare; at least 16 MB."""
        p = self.parallelism
        return max(16, math.ceil(5 * p * (3 * p + 9) * 32 / 1024))

    @property
    def config(self) -> Config:
        """The state machine's configuration."""
        return Config(emit_every=self.emit_every, min_evidence=self.min_evidence, lateness_s=self.lateness_s)

    def jvm_environment(self, given: str) -> str:
        """`JVM_ARGS` for PyFlink's JVM: the ones the environment `given` (PyFlink's own variable, the user's
        choice, taken as it is: two collectors in one command line stop the JVM), else `jvm_args`."""
        return given or self.jvm_args

    @property
    def checkpoints(self) -> Path:
        """Where this layout's checkpoints are retained and restored from."""
        return (self.checkpoint_dir or CHECKPOINTS_ROOT / self.group_id) / f"layout-{LAYOUT}"


def java_client_properties(kafka: KafkaSettings) -> dict[str, str]:
    """The Kafka SQL connector's client properties (`properties.*`) for the same broker and credentials
    every roadwatch service uses."""
    props = {"bootstrap.servers": kafka.bootstrap_servers, "security.protocol": kafka.security_protocol}
    if kafka.sasl_mechanism:
        module = LOGIN_MODULES.get(kafka.sasl_mechanism.upper())
        if module is None:
            raise ValueError(f"SASL mechanism {kafka.sasl_mechanism!r} is not one of {sorted(LOGIN_MODULES)}")
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        props["sasl.mechanism"] = kafka.sasl_mechanism
        props["sasl.jaas.config"] = (
            f'{SHADED}{module} required username="{kafka.sasl_username or ""}" password="{password}";'
        )
    if kafka.ssl_ca_location:
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.location"] = kafka.ssl_ca_location
    return props
