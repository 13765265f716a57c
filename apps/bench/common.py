"""Shared helpers for benchmarks: timing, percentiles, peak memory, the verdict every bench writes, and the
scratch topics and groups of a run (removed when it ends, failed or not)."""

from __future__ import annotations

import resource
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from roadwatch.kafka.admin import admin_client, delete_groups, delete_topics, ensure_topics
from roadwatch.kafka.topics import TopicSpec, dlq
from roadwatch.settings import KafkaSettings
from schemas import TierOpinion, Verdict


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def bench_verdict(at: datetime) -> Verdict:
    """The verdict the benches write (one fast-tier opinion), captured and decided `at`; each row
    replaces its event_id, source_id and times."""
    opinion = TierOpinion(
        tier="fast",
        backend="local",
        model="cone+coco",
        prompt_version="local-fast-v1",
        outcome="answered",
        roadwork=True,
        confidence=0.8,
        evidence=["traffic_cone 0.80"],
        latency_ms=150,
    )
    return Verdict(
        event_id="x",
        source_id="cam-0",
        captured_at=at,
        roadwork=True,
        confidence=0.8,
        decided_by="fast",
        tier_path=["detector", "fast"],
        opinions=[opinion],
        detector_score=0.3,
        decided_at=at,
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Scratch:
    """The uuid-named topics and consumer-group ids of one benchmark run (use `scratch()`)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._conf = kafka.client_config()
        self.topics: list[str] = []
        self.groups: list[str] = []

    def topic(self, prefix: str, partitions: int = 3, *, with_dlq: bool = False) -> str:
        """Create `bench.<prefix>.<uuid>` (and its `.dlq` companion with `with_dlq`)."""
        name = f"bench.{prefix}.{uuid.uuid4().hex[:8]}"
        self.topics.append(name)  # before the creation: a half-created topic is removed too
        specs = [TopicSpec(name, partitions)]
        if with_dlq:
            specs.append(TopicSpec(dlq(name), partitions))
        ensure_topics(self._conf, specs)
        return name

    def group(self, prefix: str) -> str:
        """A consumer-group id `bench-<prefix>-<uuid>`, deleted with the run's topics."""
        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        self.groups.append(name)
        return name

    def remove(self) -> None:
        """Delete the run's topics, every topic named after one of them (`<topic>.dlq`, whoever created
        it), and its groups. Raises StackError if the broker refuses."""
        listed = admin_client(self._conf).list_topics(timeout=10).topics
        ours = [t for t in listed if any(t == n or t.startswith(f"{n}.") for n in self.topics)]
        delete_topics(self._conf, sorted(ours))
        delete_groups(self._conf, self.groups)


@contextmanager
def scratch(kafka: KafkaSettings) -> Iterator[Scratch]:
    """`with scratch(kafka) as s: topic = s.topic("sink-verdicts")`: what `s` made is deleted on exit, on
    an error too (stop the processes using it first, inside the block, so that their groups are empty)."""
    made = Scratch(kafka)
    try:
        yield made
    finally:
        made.remove()
