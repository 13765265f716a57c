"""`roadwatch bench sink --peer kafka-connect`: roadwatch's sink against Kafka Connect with Apache Iceberg's
sink connector, on the same topic contents, into the same REST catalog (`sink_catalog`), each side into a
fresh namespace of it, in rounds that alternate which side goes first; medians.

- `backlog`: N verdict rows lie on the topic before either side starts; each side reads all of it in its
  own consumer group. Its rate is rows / seconds from the moment its group held every partition until the
  table's current snapshot showed every row.
- `steady`: each side gets its own topic, produced at R rows/s for S seconds once its group holds every
  partition. A row's freshness is the time from its produce call until a look at the table (every 0.2 s)
  first found it. roadwatch's maintainer runs beside roadwatch's sink (compaction, snapshot expiry).

The peer's table is roadwatch's own verdicts table (created with roadwatch's schema before the connector
starts); both sides' processes are measured from outside (`sink_sides`)."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from apps.bench.common import Scratch, bench_verdict, scratch
from apps.bench.sink import round_catalog
from apps.bench.sink_catalog import rest_catalog
from apps.bench.sink_report import SideRound, report
from apps.bench.sink_sides import (
    OurSink,
    PeerSettings,
    PeerSink,
    Side,
    Usage,
    maintainer_available,
    wait_consuming,
)
from apps.bench.sink_watch import TableWatch
from roadwatch.errors import StackError
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.kafka.admin import admin_client
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.produce import flush, send
from roadwatch.settings import KafkaSettings
from roadwatch.stack.settings import StackSettings

log = logging.getLogger(__name__)

ROUND_TIMEOUT_S = 900.0
DRAIN_TIMEOUT_S = 120.0  # steady: after the last row was produced (the peer may wait out its 30 s timeout)
LOOK_EVERY_S = 0.2
# backlog: how often the table is looked at for the last row. Each look loads the table's metadata from the
# REST catalog, CPU of the bench and the catalog that the sides share on 2 cores; a span ends at most this
# much late.
BACKLOG_LOOK_EVERY_S = 0.25
SOURCES = 50


@dataclass(frozen=True)
class Options:
    mode: Literal["backlog", "steady"] = "backlog"
    rows: int = 1_000_000  # backlog
    rate: int = 2000  # steady: rows/s
    duration_s: float = 300.0  # steady
    rounds: int = 3
    # backlog: rounds of both sides run first and left out of the medians. The first reads of a fresh
    # backlog through a freshly started REST catalog run slower for both sides (measured: 54-55 k vs 65-80 k
    # rows/s for roadwatch, 17-18 k vs 22-24 k for the peer).
    warmup_rounds: int = 0
    freshness_ms: int | None = None  # roadwatch's sink: its SinkSettings default unless given
    peer: PeerSettings = field(default_factory=PeerSettings)


class Rows:
    """Verdict records as the services write them (keyed by source_id), cheap to make by the million: one
    verdict's JSON with its event_id, source_id and times replaced."""

    def __init__(self) -> None:
        self.template = json.loads(bench_verdict(datetime(2026, 11, 27, tzinfo=UTC)).model_dump_json())

    def record(self, i: int, event_id: str, captured_at: datetime) -> tuple[bytes, bytes]:
        source = f"cam-{i % SOURCES}"
        at = captured_at.isoformat().replace("+00:00", "Z")
        row = {
            **self.template,
            "event_id": event_id,
            "source_id": source,
            "captured_at": at,
            "decided_at": at,
        }
        return source.encode(), json.dumps(row, separators=(",", ":")).encode()


def produce_backlog(kafka: KafkaSettings, topic: str, n: int) -> None:
    """`n` rows, captured one second apart from 2026-11-27 (about 12 days: a dozen day partitions)."""
    rows, t0 = Rows(), datetime(2026, 11, 27, tzinfo=UTC)
    producer = idempotent_producer(kafka, **{"linger.ms": 20, "compression.type": "lz4"})
    for i in range(n):
        send(producer, topic, *rows.record(i, str(uuid.uuid4()), t0 + timedelta(seconds=i)))
    if flush(producer, 120):
        raise StackError("bench sink: the backlog was not delivered within 120 s")


class SteadyProducer(threading.Thread):
    """Produces `rate` rows/s to `topic` for `duration_s` in 10 ms steps, stamping each row's produce time
    (`sent`: event_id → time.time())."""

    def __init__(self, kafka: KafkaSettings, topic: str, rate: int, duration_s: float) -> None:
        super().__init__(daemon=True, name="bench-steady-producer")
        self.kafka, self.topic, self.rate, self.duration_s = kafka, topic, rate, duration_s
        self.sent: dict[str, float] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._produce()
        except Exception as exc:  # noqa: BLE001 - handed over: the round re-raises it
            self.error = exc

    def _produce(self) -> None:
        rows = Rows()
        producer = idempotent_producer(self.kafka, **{"linger.ms": 5})
        started = time.monotonic()
        i = 0
        while (elapsed := time.monotonic() - started) < self.duration_s:
            due = min(int(elapsed * self.rate), int(self.duration_s * self.rate))
            while i < due:
                event_id = str(uuid.uuid4())
                now = time.time()
                self.sent[event_id] = now
                send(producer, self.topic, *rows.record(i, event_id, datetime.fromtimestamp(now, UTC)))
                i += 1
            producer.poll(0)
            time.sleep(0.01)
        if flush(producer, 60):
            raise StackError("bench sink: steady rows were not delivered within 60 s")


def _wait(what: str, done: Callable[[], bool], side: Side, timeout_s: float, every_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        side.check()
        if time.monotonic() > deadline:
            raise StackError(f"bench sink: {side.name}: {what} after {timeout_s:.0f} s")
        time.sleep(every_s)


def backlog_round(side: Side, kafka: KafkaSettings, topic: str, rows: int, watch: TableWatch) -> SideRound:
    """Start `side`, time it from holding every partition to all `rows` in its table, stop it."""
    side.start()
    try:
        wait_consuming(side, kafka, topic)
        started, before = time.perf_counter(), Usage.of(side)
        _wait(
            "not every row visible", lambda: watch.rows() >= rows, side, ROUND_TIMEOUT_S, BACKLOG_LOOK_EVERY_S
        )
        wall, after = time.perf_counter() - started, Usage.of(side)
    finally:
        side.stop()
    t = watch.figures()
    return SideRound(t.rows, wall, after.cpu_s - before.cpu_s, after.peak_rss_mb, t.files, t.snapshots)


def steady_round(side: Side, kafka: KafkaSettings, topic: str, o: Options, watch: TableWatch) -> SideRound:
    """Start `side`; once it holds every partition, produce at `o.rate` for `o.duration_s` while looking at
    its table; wait until every row is visible (or `DRAIN_TIMEOUT_S` after the last); stop it."""
    side.start()
    try:
        wait_consuming(side, kafka, topic)
        started, before = time.perf_counter(), Usage.of(side)
        producer = SteadyProducer(kafka, topic, o.rate, o.duration_s)
        producer.start()
        while producer.is_alive():
            side.check()
            watch.look()
            time.sleep(LOOK_EVERY_S)
        if producer.error is not None:
            raise producer.error
        drain = time.monotonic() + DRAIN_TIMEOUT_S
        while len(watch.first_seen) < len(producer.sent) and time.monotonic() < drain:
            side.check()
            watch.look()
            time.sleep(LOOK_EVERY_S)
        wall, after = time.perf_counter() - started, Usage.of(side)
    finally:
        side.stop()
    fresh = tuple(watch.first_seen[e] - t for e, t in producer.sent.items() if e in watch.first_seen)
    t = watch.figures()
    return SideRound(
        t.rows, wall, after.cpu_s - before.cpu_s, after.peak_rss_mb, t.files, t.snapshots, fresh,
        not_visible=len(producer.sent) - len(fresh),
    )  # fmt: skip


def _control_groups(kafka: KafkaSettings, prefix: str) -> list[str]:
    listed = admin_client(kafka.client_config()).list_consumer_groups(request_timeout=10).result()
    return [g.group_id for g in listed.valid if g.group_id.startswith(prefix)]


class Bench:
    """The sides of every round, each on its own scratch topic/group and fresh namespace."""

    def __init__(self, kafka: KafkaSettings, o: Options, s: Scratch, catalog: CatalogSettings, tmp: Path):
        self.kafka, self.o, self.s, self.catalog, self.tmp = kafka, o, s, catalog, tmp
        self.cache_dir = StackSettings().cache_dir
        self.maintain = o.mode == "steady" and maintainer_available()

    def side(self, name: str, topic: str, cat: CatalogSettings, home: Path) -> Side:
        if name == "roadwatch":
            return OurSink(
                self.kafka, cat, topic, self.s.group("ours"), home, self.o.freshness_ms, self.maintain
            )
        connector = f"bench-peer-{uuid.uuid4().hex[:8]}"
        peer = PeerSink(
            self.kafka,
            cat,
            topic,
            self.s.topic("peer-control", partitions=1),
            home,
            self.cache_dir,
            self.o.peer,
            connector,
        )
        self.s.groups.append(peer.group_id)
        return peer

    def round(self, name: str, topic: str, r: int) -> SideRound:
        """One side in round `r` (1-based; warm-up rounds are 0 and below), on `topic` (steady: a fresh
        one), into a fresh namespace."""
        tag = str(r) if r > 0 else f"w{r + self.o.warmup_rounds}"
        home = self.tmp / f"{name}-{tag}"
        with round_catalog(self.catalog, str(home), f"{name.replace('-', '_')}{tag}") as cat:
            ensure_tables(open_catalog(cat), cat.namespace)
            side = self.side(name, topic, cat, home)
            watch = TableWatch(cat)
            try:
                if self.o.mode == "backlog":
                    result = backlog_round(side, self.kafka, topic, self.o.rows, watch)
                else:
                    result = steady_round(side, self.kafka, topic, self.o, watch)
            finally:
                if isinstance(side, PeerSink):
                    self.s.groups.extend(_control_groups(self.kafka, side.worker.sink.control_group_prefix))
        label = f"round {r}/{self.o.rounds}" if r > 0 else f"warm-up round {tag[1:]}"
        log.info("%s %s: %s", label, name, result.line())
        return result


@contextmanager
def _setup(
    kafka: KafkaSettings, configured: CatalogSettings
) -> Iterator[tuple[Scratch, CatalogSettings, Path]]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roadwatch-bench-peer-")))
        catalog = stack.enter_context(rest_catalog(configured, tmp / "catalog", StackSettings().cache_dir))
        s = stack.enter_context(scratch(kafka))
        yield s, catalog, tmp


def run(kafka: KafkaSettings, o: Options, catalog: CatalogSettings | None = None) -> dict[str, Any]:
    """Alternating rounds of both sides (round r: roadwatch first when r is odd); the report's medians."""
    results: dict[str, list[SideRound]] = {"roadwatch": [], "kafka-connect": []}
    with _setup(kafka, catalog or CatalogSettings()) as (s, cat, tmp):
        bench = Bench(kafka, o, s, cat, tmp)
        backlog = s.topic("peer-verdicts") if o.mode == "backlog" else ""
        if backlog:
            produce_backlog(kafka, backlog, o.rows)
        warmup: dict[str, list[SideRound]] = {"roadwatch": [], "kafka-connect": []}
        for r in range(1 - o.warmup_rounds, o.rounds + 1):
            order = ["roadwatch", "kafka-connect"] if r % 2 else ["kafka-connect", "roadwatch"]
            for name in order:
                topic = backlog or s.topic(f"peer-steady-{name}")
                (results if r > 0 else warmup)[name].append(bench.round(name, topic, r))
        maintained = bench.maintain
    header: dict[str, Any] = {"bench": "sink", "peer": "kafka-connect", "catalog": "rest"}
    header |= (
        {"rows": o.rows}
        if o.mode == "backlog"
        else {"rate": o.rate, "duration_s": o.duration_s, "maintainer": maintained}
    )
    header["peer_settings"] = o.peer.describe()
    if o.warmup_rounds:
        header["warmup_rows_per_s"] = {
            name: [round(r.rows_per_s) for r in rounds] for name, rounds in warmup.items()
        }
    return report(o.mode, results["roadwatch"], results["kafka-connect"], header)
