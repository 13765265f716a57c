"""Shared helpers for benchmarks: timing, percentiles, peak memory, a fresh topic."""

from __future__ import annotations

import resource
import uuid

from roadwatch.kafka.admin import ensure_topics
from roadwatch.kafka.topics import TopicSpec
from roadwatch.settings import KafkaSettings


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_topic(kafka: KafkaSettings, prefix: str, partitions: int = 3) -> str:
    """Create a uuid-named topic for one benchmark run."""
    name = f"bench.{prefix}.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka.client_config(), [TopicSpec(name, partitions)])
    return name
