"""`roadwatch demo`: the profile's stack end to end, the services as supervised local processes."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from apps.evaluation.dataset import Sample, load_samples
from apps.evaluation.scores import Confusion
from apps.plan import supervisor
from roadwatch.errors import RoadwatchError, StackError
from roadwatch.producer.api import produce
from roadwatch.producer.inputs import local_paths
from roadwatch.serving import run_until_signalled
from roadwatch.settings import DATASETS_DIR, MODELS_DIR, KafkaSettings
from roadwatch.stack import local
from roadwatch.supervisor import Supervisor

log = logging.getLogger(__name__)
T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="stack up, all services, stream the shared images, wait for Iceberg, report"
    )
    p.add_argument("--data", type=Path, default=DATASETS_DIR, help="holds vtti-workzone/ and tracon/")
    p.add_argument("--models", type=Path, default=MODELS_DIR)
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the stack and services running, supervised, until Ctrl-C (the console, query, label)",
    )
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for every verdict")
    p.add_argument(
        "--instances",
        type=int,
        default=None,
        help="detector and tier instances (default: 2 on the cluster profile, 1 on the embedded one)",
    )
    p.add_argument(
        "--shadow-model",
        type=Path,
        metavar="PATH",
        help="also run a shadow detector with this model (under --models, or absolute); then see"
        " `roadwatch query models --variant <file name without suffix>`",
    )
    p.set_defaults(handler=_demo)


SOURCES = ("vtti-dashcam", "tracon-cam-a", "tracon-cam-b")


def _produce_all(kafka: KafkaSettings, data: Path) -> dict[str, bool | None]:
    """Send the VTTI frames and the TraCon val split as the three `SOURCES`; returns event_id → label (None
    for the unlabelled VTTI frames)."""
    labels: dict[str, bool | None] = {}
    vtti = local_paths([str(data / "vtti-workzone")])
    tracon: list[Sample] = load_samples(data / "tracon", "val")
    batches: list[tuple[str, list[Path], list[bool | None]]] = [
        (SOURCES[0], vtti, [None] * len(vtti)),
        (SOURCES[1], [s.path for s in tracon[::2]], [s.roadwork for s in tracon[::2]]),
        (SOURCES[2], [s.path for s in tracon[1::2]], [s.roadwork for s in tracon[1::2]]),
    ]
    with tqdm(total=sum(len(p) for _, p, _ in batches), unit="img", desc="produce", file=sys.stderr) as bar:
        for source, paths, truth in batches:
            report = produce([str(p) for p in paths], source, kafka=kafka, progress=bar.update)
            if not report.ok:
                raise RoadwatchError(f"demo images failed validation: {report.failures}")
            labels.update(zip(report.event_ids, truth, strict=True))
    return labels


def _wait_for(
    sup: Supervisor,
    wanted: set[str],
    landed: Callable[[], dict[str, T]],
    what: str,
    unit: str,
    timeout_s: float,
) -> dict[str, T]:
    """Poll `landed` (what has arrived, by key) until every key in `wanted` is there, with a progress bar;
    the services are checked on every round."""
    found: dict[str, T] = {}
    deadline = time.monotonic() + timeout_s
    with tqdm(total=len(wanted), unit=unit, desc=what, file=sys.stderr) as bar:
        while len(found) < len(wanted):
            if time.monotonic() > deadline:
                missing = sorted(wanted - found.keys())[:5]
                raise StackError(
                    f"{what}: only {len(found)}/{len(wanted)} after {timeout_s}s (missing e.g. {missing})"
                )
            sup.check()
            new = {k: v for k, v in landed().items() if k in wanted}
            bar.update(len(new) - len(found))
            found = new
            time.sleep(2)
    return found


def _wait_for_verdicts(sup: Supervisor, wanted: set[str], timeout_s: float) -> dict[str, bool]:
    from roadwatch.analytics.tables import Tables

    tables = Tables.open()

    def landed() -> dict[str, bool]:
        rows = tables.read("verdicts", columns=("event_id", "roadwork")).to_pylist()
        return {r["event_id"]: r["roadwork"] for r in rows}

    return _wait_for(sup, wanted, landed, "verdicts landed in Iceberg", "verdict", timeout_s)


def _wait_for_state(sup: Supervisor, since: datetime, timeout_s: float) -> None:
    """The Flink job's state for each demo source, written after `since`, landed in Iceberg."""
    from roadwatch.analytics.tables import Tables

    tables = Tables.open()

    def landed() -> dict[str, datetime]:
        rows = tables.read("source_state", columns=("source_id", "updated_at")).to_pylist()
        return {r["source_id"]: r["updated_at"] for r in rows if r["updated_at"] >= since}

    _wait_for(sup, set(SOURCES), landed, "Flink source state in Iceberg", "source", timeout_s)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _demo(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # a SIGTERM stops the services as cleanly as Ctrl-C does
    stack = local.current()
    instances = args.instances or (2 if stack.profile == "cluster" else 1)
    was_up = stack.running()  # a stack the demo did not start, it leaves running
    kafka = stack.up()
    sup = supervisor(
        args.models,
        args.data,
        with_flink=not stack.runs_flink,
        instances=instances,
        shadow_model=args.shadow_model,
    )
    try:
        sup.start()
        sup.wait_ready()
        started = datetime.now(UTC)
        labels = _produce_all(kafka, args.data)
        verdicts = _wait_for_verdicts(sup, set(labels), args.timeout)
        _wait_for_state(sup, started, args.timeout)
        _summarise(labels, verdicts)
        console = f"http://127.0.0.1:{sup.running['console'].spec.ready_port}/"
        if args.keep:
            sys.stdout.write(
                f"console: {console}\n"
                "services keep running, supervised (logs in ~/.roadwatch/logs); Ctrl-C stops everything\n"
            )
            sys.stdout.flush()
            run_until_signalled(sup.watch)
            return 0
        sys.stdout.write(
            f"console: {console} (only while the demo runs: `demo --keep` keeps it up until Ctrl-C)\n"
        )
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; stopping services\n")
        return 130
    finally:
        sup.stop()
        if not was_up:
            stack.down()
    return 0


def _summarise(labels: dict[str, bool | None], verdicts: dict[str, bool]) -> None:
    from apps.console.report import write_report
    from roadwatch.analytics.queries import run_query

    labelled = [(truth, verdicts[e]) for e, truth in labels.items() if truth is not None]
    c = Confusion.of([t for t, _ in labelled], [p for _, p in labelled])
    funnel = run_query("funnel")[0]
    out = sys.stdout
    out.write(f"funnel: {json.dumps(funnel)}\n")
    out.write(
        f"TraCon val ({c.total} labelled): accuracy {c.accuracy:.3f}  precision {c.precision:.3f}  "
        f"recall {c.recall:.3f}  MCC {c.mcc:.3f}\n"
    )
    out.write(f"report: {write_report(Path('report'))}\n")
