"""`roadwatch bench console`: the web console over N verdicts (and their detections) in the tables, served by
uvicorn in its own process and asked over HTTP: p50/p99 of the Decisions data path (a page of 100 verdicts
of one camera, unfiltered, the funnel, the `/decisions` page), the live feed's latency from a verdict's
transaction commit on Kafka to its arrival in an SSE client of `/api/live`, and the serving process's RSS.

The tables are filled the way the sink fills them: the records' JSON as consumer `Message`s, through the
sink's `to_arrow` and `TableWriter.commit`, in batches of `batch_rows` (one Iceberg snapshot each), over
`CAMERAS` cameras and `DAYS` days of `captured_at` (day partitions)."""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Message
from tqdm import tqdm

from apps.bench.common import bench_verdict, percentile, scratch
from roadwatch.analytics.tables import Tables
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.clients import transactional_producer
from roadwatch.ports import free_port
from roadwatch.settings import KafkaSettings
from schemas import Detection, DetectionResult, ModelRef
from services.sink.convert import to_arrow
from services.sink.writer import TableWriter

CAMERAS = 50
DAYS = 4
T0 = datetime(2026, 11, 28, tzinfo=UTC)
TIERS = (["detector"], ["detector", "fast"], ["detector", "fast", "precision"])


def _templates() -> tuple[dict[str, Any], dict[str, Any]]:
    """A verdict and a detection result as JSON objects, from the real models (fields replaced per row)."""
    verdict = bench_verdict(T0)
    box = Detection(
        label="traffic_cone", class_id=0, confidence=0.7, x1=0.1, y1=0.2, x2=0.3, y2=0.4, model="cone"
    )
    detection = DetectionResult(
        event_id="x",
        source_id="cam-0",
        captured_at=T0,
        image_uri="file:///bench/frame.jpg",
        image_sha256="a" * 64,
        detections=[box, box],
        roadwork_score=0.7,
        decision="roadwork",
        band_low=0.15,
        band_high=0.45,
        models=[ModelRef(name="cone", version="1", weights_sha256="b" * 64)],
        decode_ms=3.0,
        inference_ms=50.0,
        detected_at=T0,
    )
    return verdict.model_dump(mode="json"), detection.model_dump(mode="json")


def records(n: int) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(key, verdict JSON, detection JSON) of `n` images in capture order, round-robin over the cameras and
    spread evenly over `DAYS` days."""
    verdict, detection = _templates()
    step = timedelta(days=DAYS) / max(1, n)
    for i in range(n):
        source, event_id = f"cam-{i % CAMERAS}", str(uuid.uuid4())
        captured = T0 + i * step
        path = TIERS[i % 3]
        at = {"event_id": event_id, "source_id": source, "captured_at": captured.isoformat()}
        v = verdict | at
        v |= {
            "roadwork": i % 2 == 0,
            "decided_by": path[-1],
            "tier_path": path,
            "opinions": [] if len(path) == 1 else v["opinions"],
            "degraded": i % 97 == 0,
            "degraded_reason": "precision tier unavailable" if i % 97 == 0 else None,
            "decided_at": (captured + timedelta(milliseconds=400 + 37 * (i % 11))).isoformat(),
        }
        d = detection | at | {"detected_at": (captured + timedelta(milliseconds=60)).isoformat()}
        d["decision"] = "escalate" if len(path) > 1 else "roadwork" if i % 2 == 0 else "clear"
        yield source.encode(), json.dumps(v).encode(), json.dumps(d).encode()


def fill(tables: Tables, rows: int, batch_rows: int = 50_000) -> int:
    """Write `rows` verdicts and their detections as the sink does (a commit of `batch_rows` records per
    table at a time, with their offsets); returns the number of commits per table."""
    writers = {
        name: TableWriter(tables.catalog.load_table(f"{tables.namespace}.{name}"), retries=1)
        for name in ("verdicts", "detections")
    }
    batches: dict[str, list[Message]] = {"verdicts": [], "detections": []}
    commits = 0

    def commit(end: int) -> None:
        for name, batch in batches.items():
            w, first = writers[name], end - len(batch)
            converted = to_arrow(name, w.arrow_schema, batch)
            if converted.dead:
                raise RuntimeError(f"bench console: the sink refused {len(converted.dead)} {name} records")
            w.commit(converted.table, {(name, 0): first}, {(name, 0): end})
            batch.clear()

    for offset, (key, v, d) in enumerate(tqdm(records(rows), total=rows, desc="filling", unit="rows")):
        batches["verdicts"].append(Message(topic="verdicts", partition=0, offset=offset, key=key, value=v))
        batches["detections"].append(
            Message(topic="detections", partition=0, offset=offset, key=key, value=d)
        )
        if len(batches["verdicts"]) == batch_rows:
            commit(offset + 1)
            commits += 1
    if batches["verdicts"]:
        commit(rows)
        commits += 1
    return commits


def _serve(
    catalog: CatalogSettings, root: str, port: int, kafka: KafkaSettings, topics: tuple[str, str]
) -> None:
    """The console process: `create_app` over the bench's tables and a LiveFeed on its topics."""
    import uvicorn

    from apps.console.app import create_app
    from apps.console.live import LiveFeed
    from apps.console.settings import ConsoleSettings

    settings = ConsoleSettings(live=False, allowed_file_roots=[root], port=port)
    feed = LiveFeed(kafka, *topics).start()
    app = create_app(settings, Tables.open(catalog), feed)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _wait_ready(
    client: httpx.Client, proc: multiprocessing.process.BaseProcess, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"the console exited with {proc.exitcode}")
        try:
            if client.get("/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the console did not become ready")


def _rss_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and at its peak (VmHWM), in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _timed(client: httpx.Client, path: str, requests: int, warmup: int) -> dict[str, float]:
    """p50/p99/max of `requests` GETs of `path` after `warmup` untimed ones, in ms."""
    took = []
    for i in range(warmup + requests):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        if i >= warmup:
            took.append(elapsed)
    return {
        "p50_ms": round(percentile(took, 50), 1),
        "p99_ms": round(percentile(took, 99), 1),
        "max_ms": round(max(took), 1),
        "bytes": len(response.content),
    }


class _Feed(threading.Thread):
    """An SSE client of `/api/live`: when each verdict (by event_id) arrived, on this process's clock."""

    def __init__(self, base_url: str) -> None:
        super().__init__(name="bench-sse", daemon=True)
        self._url = f"{base_url}/api/live"
        self.arrived: dict[str, float] = {}
        self.connected = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=2.0)) as client,
            client.stream("GET", self._url) as response,
        ):
            response.raise_for_status()
            lines = response.iter_lines()
            while not self.stop.is_set():
                try:
                    line = next(lines)
                except (StopIteration, httpx.ReadTimeout):
                    return
                self.connected.set()
                if line.startswith("data: "):
                    self.arrived[json.loads(line[6:])["event_id"]] = time.perf_counter()


def _live(kafka: KafkaSettings, topic: str, base_url: str, verdicts: int, rate: float) -> dict[str, float]:
    """Verdicts produced at `rate` per second, each in a transaction of its own; latency from the return of
    `commit_transaction` to the verdict's arrival over SSE."""
    producer = transactional_producer(kafka, f"bench-console-{uuid.uuid4().hex[:8]}")
    template, _ = _templates()
    committed: dict[str, float] = {}

    def send() -> tuple[str, float]:
        event_id = str(uuid.uuid4())
        value = template | {"event_id": event_id, "captured_at": datetime.now(UTC).isoformat()}
        producer.begin_transaction()
        producer.produce(topic, key=b"cam-0", value=json.dumps(value).encode())
        producer.commit_transaction(10)
        return event_id, time.perf_counter()

    feed = _Feed(base_url)
    feed.start()
    if not feed.connected.wait(10):
        raise RuntimeError("no SSE connection to /api/live")
    deadline = time.monotonic() + 30  # the feed reads from the topic's end once it has its partitions
    while not feed.arrived:
        if time.monotonic() > deadline:
            raise RuntimeError("the live feed delivered nothing in 30 s")
        send()
        time.sleep(0.2)
    start = time.perf_counter()
    for i in range(verdicts):
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        event_id, at = send()
        committed[event_id] = at
    deadline = time.monotonic() + 10
    while not committed.keys() <= feed.arrived.keys() and time.monotonic() < deadline:
        time.sleep(0.05)
    feed.stop.set()
    feed.join(5)
    took = [(feed.arrived[e] - at) * 1000 for e, at in committed.items() if e in feed.arrived]
    return {
        "live_verdicts": verdicts,
        "live_rate_per_s": rate,
        "live_received": len(took),
        "live_p50_ms": round(percentile(took, 50), 1),
        "live_p99_ms": round(percentile(took, 99), 1),
        "live_max_ms": round(max(took, default=0.0), 1),
    }


def _pages(client: httpx.Client, source: str, requests: int, warmup: int) -> dict[str, Any]:
    paths = {
        "source_page": f"/api/verdicts?source={source}&limit=100",
        "all_page": "/api/verdicts?limit=100",
        "funnel": "/api/funnel",
        "decisions_html": f"/decisions?source={source}",
    }
    out: dict[str, Any] = {}
    for name, path in paths.items():
        for key, value in _timed(client, path, requests, warmup).items():
            out[f"{name}_{key}"] = value
    return out


def run(
    kafka: KafkaSettings,
    rows: int = 1_000_000,
    batch_rows: int = 50_000,
    requests: int = 50,
    warmup: int = 5,
    live_verdicts: int = 200,
    live_rate: float = 20.0,
) -> dict[str, Any]:
    """Fill a fresh warehouse with `rows` verdicts and detections, serve the console over it in its own
    process (with a LiveFeed on a scratch topic), time its pages and the live feed, read its RSS."""
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp, scratch(kafka) as s:
        catalog = CatalogSettings(warehouse=str(Path(tmp) / "warehouse"))
        ensure_tables(open_catalog(catalog), catalog.namespace)
        tables = Tables.open(catalog)
        started = time.perf_counter()
        commits = fill(tables, rows, batch_rows)
        fill_s = time.perf_counter() - started
        files = len(tables.catalog.load_table(f"{catalog.namespace}.verdicts").inspect.files())
        topics = (s.topic("console-verdicts"), s.topic("console-thresholds", partitions=1))
        port = free_port()
        proc = ctx.Process(target=_serve, args=(catalog, tmp, port, kafka, topics), name="bench-console")
        proc.start()
        base_url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base_url, timeout=120) as client:
                _wait_ready(client, proc)
                pages = _pages(client, "cam-7", requests, warmup)
                live = _live(kafka, topics[0], base_url, live_verdicts, live_rate)
            rss = _rss_mb(proc.pid or 0)
        finally:  # before the scratch goes: the feed's consumer holds no group, its topics must be free
            proc.terminate()
            proc.join(30)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return {
        "bench": "console",
        "rows": rows,
        "cameras": CAMERAS,
        "days": DAYS,
        "batch_rows": batch_rows,
        "commits": commits,
        "verdict_files": files,
        "fill_s": round(fill_s, 1),
        "requests": requests,
        **pages,
        **live,
        "console_rss_mb": round(rss["VmRSS"], 1),
        "console_peak_rss_mb": round(rss["VmHWM"], 1),
    }
