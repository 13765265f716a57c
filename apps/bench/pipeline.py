"""`roadwatch bench pipeline`: the whole pipeline under open-loop load, on the embedded profile.

Every service `roadwatch run all` starts (detector, the three tiers on the local backend, the sink, the
maintainer, the console, the Flink job) runs as its own process on the bench's own topics and consumer
groups and a fresh warehouse (`pipeline_services`). The demo's images are sent open-loop at a set rate
(`pipeline_load`); an image's latency is from its send until a look at the verdicts table (every 0.25 s,
the data files of new snapshots) first shows its event_id.

A search (`pipeline_search`) of steps of `step_s` seconds finds the highest sustained rate: verdicts visible
in Iceberg keep pace with the arrivals and every image of the step is visible shortly after the last send.
Then one step at 50 % and one at 90 % of that rate give the latency percentiles; the services' CPU per image
is the 90 % step's (each service's process group, /proc). Steps share the services and topics; each waits
until all its images are visible, so that none starts on another's backlog."""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.bench.common import scratch
from apps.bench.pipeline_load import Sender, demo_images, run_step
from apps.bench.pipeline_search import Bounds, Search, Step, max_rate, next_rate
from apps.bench.pipeline_services import Layout, Services, supervisor
from apps.bench.sink_watch import TableWatch
from roadwatch.errors import ConfigError
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.topics import IMAGES
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import DATASETS_DIR, DEFAULT_HOME, MODELS_DIR, KafkaSettings
from roadwatch.stack import local

log = logging.getLogger(__name__)
WARMUP_RATE = 2.0
LOGS = DEFAULT_HOME / "logs" / "bench-pipeline"  # the services' logs, kept after the run


@dataclass(frozen=True)
class Options:
    data: Path = DATASETS_DIR  # holds vtti-workzone/ and tracon/, as for `roadwatch demo`
    models: Path = MODELS_DIR
    step_s: float = 30.0
    warmup_s: float = 10.0  # a first step at WARMUP_RATE, judged by nothing: the Flink job's Python workers
    # start on its first records, the models' first batches run
    rate: float | None = None  # one step at this rate instead of the search and the 50 % / 90 % steps
    search: Search = field(default_factory=Search)
    bounds: Bounds = field(default_factory=Bounds)


class Bench:
    """The steps of one run, on services already ready."""

    def __init__(self, sender: Sender, watch: TableWatch, services: Services, options: Options) -> None:
        self.sender, self.watch, self.services, self.options = sender, watch, services, options
        self.steps: list[tuple[str, Step]] = []
        self.sent = 0

    def step(self, label: str, rate: float, duration_s: float | None = None) -> Step:
        duration_s = duration_s or self.options.step_s
        log.info("%s: %.2f images/s for %.0f s", label, rate, duration_s)
        step, ids = run_step(
            self.sender, self.watch, self.services, rate, duration_s, self.sent, self.options.bounds
        )
        self.sent += len(ids)
        s = step.summary(self.options.bounds)
        log.info(
            "%s: %d sent, p50 %d ms, p99 %d ms, keep-up %.2f, end lag %.1f s%s: %s",
            label,
            s["sent"],
            s["p50_ms"],
            s["p99_ms"],
            s["keep_up"],
            s["end_lag_s"],
            " (cut short)" if step.cut else "",
            "sustained" if s["sustained"] else "NOT sustained",
        )
        self.steps.append((label, step))
        return step

    def search(self) -> float:
        tried: list[tuple[float, bool]] = []
        while (rate := next_rate(tried, self.options.search)) is not None:
            step = self.step(f"search {len(tried) + 1}", rate)
            tried.append((rate, step.sustained(self.options.bounds)))
        return max_rate(tried)


def _decided_by(watch: TableWatch) -> dict[str, float]:
    """Which tier decided the bench's verdicts, as fractions (the escalation mix)."""
    rows = watch.load().scan(selected_fields=("decided_by",)).to_arrow().column("decided_by").to_pylist()
    counts = Counter(str(v) for v in rows)
    return {k: round(n / len(rows), 3) for k, n in sorted(counts.items())} if rows else {}


def _figures(bench: Bench, step: Step, suffix: str = "") -> dict[str, Any]:
    s = step.summary(bench.options.bounds)
    return {
        f"rate{suffix}": step.rate,
        f"p50_ms{suffix}": s["p50_ms"],
        f"p99_ms{suffix}": s["p99_ms"],
        f"sustained{suffix}": s["sustained"],
    }


def _measure(bench: Bench) -> dict[str, Any]:
    if bench.options.warmup_s > 0:
        bench.step("warm-up", WARMUP_RATE, bench.options.warmup_s)
    if bench.options.rate is not None:
        fixed = bench.step("fixed", bench.options.rate)
        return {**_figures(bench, fixed), "cpu_ms_per_image": fixed.cpu_ms_per_image()}
    best = bench.search()
    if best == 0.0:
        return {"max_images_per_s": 0.0}
    half = bench.step("at 50 %", round(best * 0.5, 2))
    most = bench.step("at 90 %", round(best * 0.9, 2))
    return {
        "max_images_per_s": best,
        **_figures(bench, half, "_at_50"),
        **_figures(bench, most, "_at_90"),
        "cpu_ms_per_image": most.cpu_ms_per_image(),
    }


def run(kafka: KafkaSettings, options: Options) -> dict[str, Any]:
    """Start the services, run the steps, stop the services and remove the topics; the figures.

    Raises:
        ConfigError: not the embedded profile (on the cluster profile the Flink job runs in the stack).
        StackError: a service did not become ready or exited, or a step's images never all landed.
    """
    if local.current().runs_flink:
        raise ConfigError(
            "bench pipeline runs on the embedded profile (its Flink job is one of the services)"
        )
    started = time.monotonic()
    settings = ProducerSettings()
    images = demo_images(options.data, settings)
    with scratch(kafka) as s, tempfile.TemporaryDirectory(prefix="roadwatch-bench-pipeline-") as work:
        layout = Layout(f"bench.pipeline.{uuid.uuid4().hex[:8]}.", Path(work), s.group)
        s.topics.append(layout.prefix.removesuffix("."))  # removed with every topic named after it
        layout.create_topics(kafka)
        sup = supervisor(kafka, layout, options.models, options.data, LOGS)
        try:
            sup.start()
            sup.wait_ready()
            log.info("services ready after %.0f s (logs in %s)", time.monotonic() - started, sup.logs)
            sender = Sender(kafka, images, settings.model_copy(update={"topic": layout.topic(IMAGES)}))
            watch = TableWatch(CatalogSettings(type="sql", warehouse=str(layout.warehouse)))
            bench = Bench(sender, watch, Services(sup), options)
            figures = {
                "bench": "pipeline",
                **_measure(bench),
                "decided_by": _decided_by(watch),
                "images": len(images),
                "step_s": options.step_s,
                "steps": [{"step": label, **step.summary(options.bounds)} for label, step in bench.steps],
            }
        finally:
            sup.stop()
    return {**figures, "wall_s": round(time.monotonic() - started, 1)}
