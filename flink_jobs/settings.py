"""Settings of the Flink job (`ROADWATCH_FLINK_*`). Plain environment reads: the job's own environment
(.venv-flink) has no pydantic-settings, and the job reads only a handful of values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from flink_jobs.state_machine import Config

CONNECTOR = "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2"


HOME = Path(os.environ.get("ROADWATCH_HOME", Path.home() / ".roadwatch"))  # as roadwatch.settings has it
CHECKPOINTS_ROOT = HOME / "flink" / "checkpoints"  # one directory per group_id below it
# The job's operator layout. Checkpoints of another layout cannot be mapped onto this one, so each layout
# keeps its own: after an upgrade the job starts from the group's committed offsets instead of failing.
LAYOUT = 2


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ROADWATCH_FLINK_{name}", default)


@dataclass(frozen=True)
class FlinkSettings:
    bootstrap: str = field(
        default_factory=lambda: os.environ.get(
            "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
        )
    )
    detections_topic: str = field(default_factory=lambda: _env("DETECTIONS_TOPIC", "detections.v1"))
    verdicts_topic: str = field(default_factory=lambda: _env("VERDICTS_TOPIC", "verdicts.v1"))
    state_topic: str = field(default_factory=lambda: _env("STATE_TOPIC", "source-state.v1"))
    thresholds_topic: str = field(default_factory=lambda: _env("THRESHOLDS_TOPIC", "thresholds.v1"))
    group_id: str = field(default_factory=lambda: _env("GROUP_ID", "roadwatch-flink"))
    checkpoint_ms: int = field(default_factory=lambda: int(_env("CHECKPOINT_MS", "5000")))
    batch_ms: int = field(default_factory=lambda: int(_env("BATCH_MS", "200")))
    # 2: the keyed Python operator is what bounds the job, and each subtask gets its own Python worker
    parallelism: int = field(default_factory=lambda: int(_env("PARALLELISM", "2")))
    # local mini-cluster only: "process" gives each Python operator subtask a worker process of its own (as a
    # cluster does); "loopback" runs them all inside the submitting process, under one GIL
    python_workers: str = field(default_factory=lambda: _env("PYTHON_WORKERS", "process"))
    state_ttl_days: int = field(default_factory=lambda: int(_env("STATE_TTL_DAYS", "7")))
    checkpoint_dir: Path = field(
        default_factory=lambda: Path(
            _env(
                "CHECKPOINT_DIR",
                str(CHECKPOINTS_ROOT / _env("GROUP_ID", "roadwatch-flink")),
            )
        )
    )
    restore: bool = field(default_factory=lambda: _env("RESTORE", "true").lower() in ("1", "true", "yes"))
    jar_cache: Path = field(
        default_factory=lambda: Path(_env("JAR_CACHE", str(Path.home() / ".cache" / "roadwatch")))
    )
    config: Config = field(
        default_factory=lambda: Config(
            emit_every=int(_env("EMIT_EVERY", "10")),
            min_evidence=int(_env("MIN_EVIDENCE", "5")),
            lateness_s=float(_env("LATENESS_S", "300")),
        )
    )

    def __post_init__(self) -> None:
        if self.python_workers not in ("process", "loopback"):
            raise ValueError(
                f"ROADWATCH_FLINK_PYTHON_WORKERS must be process or loopback, not {self.python_workers!r}"
            )

    @property
    def checkpoints(self) -> Path:
        """Where this layout's checkpoints are retained and restored from."""
        return self.checkpoint_dir / f"layout-{LAYOUT}"
