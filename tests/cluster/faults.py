"""What the cluster's fault tests share: a feed of images in the background, waiting for what landed while
the services are supervised, and the exactly-once checks."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from roadwatch.producer.inputs import local_paths
from roadwatch.serving import STUCK_EXIT_CODE
from tests.helpers import wait_for
from tests.pipeline import Pipeline

log = logging.getLogger(__name__)
SERVICES = ["detector", "detector-2", "vlm-fast", "vlm-power", "vlm-precision", "sink"]


def image_pool(shared: Path) -> list[Path]:
    data = shared / "datasets"
    return local_paths([str(data / "tracon" / "images"), str(data / "vtti-workzone")])


@dataclass
class Feed:
    """`n` images (the pool repeated) as `sources` sources, in `chunks` `pause_s` apart, on a thread."""

    pipeline: Pipeline
    pool: list[Path]
    n: int
    sources: list[str]
    chunks: int = 10
    pause_s: float = 2.0
    sent: dict[str, str] = field(default_factory=dict)  # event_id → source_id
    _thread: threading.Thread | None = None

    def start(self) -> Feed:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        paths = [self.pool[i % len(self.pool)] for i in range(self.n)]
        size = -(-self.n // self.chunks)
        for c in range(self.chunks):
            chunk = paths[c * size : (c + 1) * size]
            for i, source in enumerate(self.sources):
                report = self.pipeline.produce(chunk[i :: len(self.sources)], source)
                if not report.ok:
                    raise AssertionError(f"produce failed: {report.failures[:3]}")
                self.sent.update(dict.fromkeys(report.event_ids, source))
            log.info("produced %d/%d images", len(self.sent), self.n)
            time.sleep(self.pause_s)

    def wait_until(self, count: int, timeout_s: float = 300) -> None:
        wait_for(lambda: len(self.sent) >= count, timeout_s, f"{count} images produced")

    def join(self, timeout_s: float = 600) -> dict[str, str]:
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive() and len(self.sent) == self.n, (len(self.sent), self.n)
        return dict(self.sent)


def start(pipeline: Pipeline, services: list[str] = SERVICES) -> None:
    pipeline.start(services)
    for name in services:
        wait_for(partial(pipeline.ready, name), 180, f"{name} to be ready")


def wait_landed(pipeline: Pipeline, sent: dict[str, str], timeout_s: float = 900) -> None:
    """Until every sent image has a verdict; a service that exits is started again (as `run all`'s
    supervisor does), and may only have left on purpose (exit 75: a transactional call stuck after a
    broker came back)."""

    def landed() -> bool:
        pipeline.supervise()
        return set(pipeline.verdict_counts()) >= set(sent)

    wait_for(landed, timeout_s, f"a verdict for each of {len(sent)} images", 5)
    assert all(code == STUCK_EXIT_CODE for _, code in pipeline.exits), pipeline.exits


def assert_exactly_once(pipeline: Pipeline, sent: dict[str, str]) -> None:
    """One verdict and one detection per sent image (the tables are shared: only ours are counted)."""
    time.sleep(5)  # a duplicate would land now
    verdicts = pipeline.verdict_counts()
    lost = [e for e in sent if verdicts[e] == 0]
    twice = [e for e in sent if verdicts[e] > 1]
    assert not lost and not twice, f"lost {len(lost)}, duplicated {len(twice)}: {(lost + twice)[:5]}"
    detections = pipeline.table("detections", ("event_id",))
    assert detections is not None
    per_event = Counter(e for e in detections.column("event_id").to_pylist() if e in sent)
    assert set(per_event) == set(sent) and max(per_event.values()) == 1


def sources_with_state(pipeline: Pipeline) -> set[str]:
    states = pipeline.table("source_state", ("source_id",))
    return set() if states is None else set(states.column("source_id").to_pylist())
