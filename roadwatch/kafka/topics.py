"""Topic names (the version is part of the name) and their specs. Keys are `source_id` everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.records import VLM_TIERS

IMAGES = "images.v1"
DETECTIONS = "detections.v1"
VERDICTS = "verdicts.v1"
SOURCE_STATE = "source-state.v1"
THRESHOLDS = "thresholds.v1"
LABELS = "labels.v1"  # what images truly show (people, datasets); the sink writes them to `labels`
# what shadow variants say (`run detector|vlm --shadow NAME`); the sink writes them to tables of their own
SHADOW_DETECTIONS = "detections.shadow.v1"
SHADOW_OPINIONS = "opinions.shadow.v1"


def escalations(tier: str) -> str:
    """The escalation topic a tier consumes."""
    if tier not in VLM_TIERS:
        raise ValueError(f"unknown tier {tier!r}; expected one of {VLM_TIERS}")
    return f"escalations.{tier}.v1"


def dlq(topic: str) -> str:
    """The dead-letter topic for records consumed from `topic`."""
    return f"{topic}.dlq"


CONSUMED = (
    IMAGES,
    *(escalations(t) for t in VLM_TIERS),
    DETECTIONS,
    VERDICTS,
    SOURCE_STATE,
    THRESHOLDS,
    LABELS,
)


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: partitions and topic-level configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    replication: int = 1


def all_topics(
    partitions: int = 3, retention_ms: int = 7 * 24 * 3600 * 1000, replication: int = 1, min_insync: int = 1
) -> list[TopicSpec]:
    """Every topic the pipeline uses, with `thresholds.v1` compacted; each on `replication` brokers, a write
    acknowledged (acks=all) once `min_insync` of them have it."""
    retention = {"retention.ms": str(retention_ms), "min.insync.replicas": str(min_insync)}
    compacted = {"cleanup.policy": "compact", "min.insync.replicas": str(min_insync)}
    names = [
        IMAGES,
        DETECTIONS,
        VERDICTS,
        SOURCE_STATE,
        LABELS,
        SHADOW_DETECTIONS,
        SHADOW_OPINIONS,
        *(escalations(t) for t in VLM_TIERS),
    ]
    specs = [TopicSpec(n, partitions, dict(retention), replication) for n in names]
    specs.append(TopicSpec(THRESHOLDS, partitions, compacted, replication))
    specs.extend(TopicSpec(dlq(n), partitions, dict(retention), replication) for n in CONSUMED)
    return specs
