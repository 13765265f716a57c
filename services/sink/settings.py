"""Sink settings (`ROADWATCH_SINK_*`): flush policy, topics (the catalog: `roadwatch.iceberg.settings`)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.kafka.topics import (
    DETECTIONS,
    LABELS,
    SHADOW_DETECTIONS,
    SHADOW_OPINIONS,
    SOURCE_STATE,
    VERDICTS,
)
from roadwatch.settings import ComponentSettings
from services.sink.dedupe import DEFAULT_WINDOW_S

# What shadow variants write (`roadwatch run detector|vlm --shadow NAME`): each shadow creates its topic


class SinkSettings(ComponentSettings):
    section: ClassVar[str] = "sink"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_SINK_", frozen=True, extra="forbid")

    detections_topic: str = DETECTIONS
    verdicts_topic: str = VERDICTS
    source_state_topic: str = SOURCE_STATE
    labels_topic: str = LABELS
    shadow_detections_topic: str = SHADOW_DETECTIONS
    shadow_opinions_topic: str = SHADOW_OPINIONS
    dlq_pattern: str = r"^.*\.v1\.dlq$"
    group_id: str = "roadwatch-sink"
    instance_id: str = "0"
    # static group membership (group.instance.id): a restarted instance takes its partitions straight back;
    # off, it leaves its group on close (a short-lived sink, e.g. a benchmark's)
    static_member: bool = True
    # a flush goes once any of these is reached, whichever comes first: rows, buffered record bytes (the
    # file-size target: Parquet files come out several times smaller), or the freshness target (how long a
    # consumed record may wait before its commit starts)
    flush_rows: int = Field(100_000, ge=1)
    flush_bytes: int = Field(64 * 2**20, ge=1)
    freshness_ms: int = Field(1_000, ge=10)
    max_poll_records: int = Field(10_000, ge=1)
    # threads turning consumed records into Arrow (Arrow's JSON reader and checks run without the GIL);
    # a table's chunks are merged in consumption order whatever their number
    convert_workers: int = Field(2, ge=1)
    commit_retries: int = Field(8, ge=0)
    # /ready turns false while one flush's commit has run this long (a commit takes seconds at most)
    commit_stuck_s: float = Field(30.0, gt=0)
    # a row whose event_id (a dead letter: whose record) the table took this long ago or less is left out
    dedupe_window_s: float = Field(DEFAULT_WINDOW_S, ge=0)
    metrics_port: int = Field(9103, ge=0, le=65535)

    def table_for(self, topic: str) -> str:
        """Which table a topic feeds (every dead-letter topic feeds `dead_letters`)."""
        mapping = {
            self.detections_topic: "detections",
            self.verdicts_topic: "verdicts",
            self.source_state_topic: "source_state",
            self.labels_topic: "labels",
            self.shadow_detections_topic: "shadow_detections",
            self.shadow_opinions_topic: "shadow_opinions",
        }
        if topic in mapping:
            return mapping[topic]
        if topic.endswith(".dlq"):
            return "dead_letters"
        raise ValueError(f"no table for topic {topic!r}")

    def subscriptions(self) -> list[str]:
        """What the sink subscribes to: the shadow topics by pattern, so that the sink waits for a shadow
        to create its topic rather than failing on a topic that does not exist yet."""
        shadows = (self.shadow_detections_topic, self.shadow_opinions_topic)
        return [
            self.detections_topic,
            self.verdicts_topic,
            self.source_state_topic,
            self.labels_topic,
            self.dlq_pattern,
            *(f"^{re.escape(t)}$" for t in shadows),
        ]
