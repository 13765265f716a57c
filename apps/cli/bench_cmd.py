"""`roadwatch bench NAME [--json]`: side-by-side benchmarks; the last line of `--json` is one JSON object."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apps.cli.output import emit
from roadwatch.settings import DATASETS_DIR, MODELS_DIR, KafkaSettings


def _produce(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import produce

    return produce.run(
        KafkaSettings(), args.dataset or str(DATASETS_DIR / "vtti-workzone"), args.events or 3000
    )


def _detector(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import detector

    dataset = args.dataset or str(DATASETS_DIR / "tracon" / "images" / "val")
    return detector.run(
        KafkaSettings(), dataset, MODELS_DIR, images=args.events or 500, rounds=args.rounds or 3
    )


def _vlm(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import vlm

    return vlm.run()


def _sink(args: argparse.Namespace) -> dict[str, Any]:
    if args.peer == "kafka-connect":
        return _sink_peer(args)
    from apps.bench import sink

    return sink.run(KafkaSettings(), rows=args.events or 200_000)


def _sink_peer(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import sink_peer
    from apps.bench.sink_sides import PeerSettings

    peer = PeerSettings(
        commit_interval_ms=args.peer_commit_interval_ms,
        commit_timeout_ms=args.peer_commit_timeout_ms,
        offset_flush_interval_ms=args.peer_offset_flush_interval_ms,
        tasks=args.peer_tasks,
        max_poll_records=args.peer_max_poll_records,
    )
    options = sink_peer.Options(
        mode=args.mode,
        rows=args.events or 1_000_000,
        rate=math.ceil(args.rate or 2000),
        duration_s=args.duration or 300.0,
        rounds=args.rounds or (3 if args.mode == "backlog" else 1),
        warmup_rounds=args.warmup_rounds if args.warmup_rounds is not None else int(args.mode == "backlog"),
        freshness_ms=args.freshness_ms,
        peer=peer,
    )
    return sink_peer.run(KafkaSettings(), options)


def _pipeline(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import pipeline

    options = pipeline.Options(
        data=args.data, models=args.models, step_s=args.duration or 30.0, rate=args.rate
    )
    return pipeline.run(KafkaSettings(), options)


def _flink(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import flink

    return flink.run(
        KafkaSettings(), events=args.events or 1_000_000, emit_every=args.emit_every, rounds=args.rounds or 3
    )


def _console(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import console

    return console.run(KafkaSettings(), rows=args.events or 1_000_000)


def _replay(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import replay

    return replay.run(events=args.events or 1_000_000)


BENCHES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "produce": _produce,
    "detector": _detector,
    "vlm": _vlm,
    "sink": _sink,
    "flink": _flink,
    "console": _console,
    "replay": _replay,
    "pipeline": _pipeline,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmarks, measured side by side against a bare baseline")
    p.add_argument("name", choices=sorted(BENCHES))
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.add_argument(
        "--events",
        type=int,
        default=None,
        help="produce: images sent (3000); detector: images per round (500, the dataset repeated); sink:"
        " verdict rows (200,000; with --peer 1,000,000); console: verdicts in the tables (1,000,000);"
        " replay: stored events (1,000,000); flink: verdicts (1,000,000)",
    )
    p.add_argument("--dataset", default=None)
    p.add_argument(
        "--emit-every",
        type=int,
        default=10,
        help="flink: a SourceState every N events of a source (10, the default)",
    )
    g = p.add_argument_group("pipeline")
    g.add_argument(
        "--data", type=Path, default=DATASETS_DIR, help="holds vtti-workzone/ and tracon/ (the demo's)"
    )
    g.add_argument("--models", type=Path, default=MODELS_DIR)
    _peer_arguments(p)
    p.set_defaults(handler=_bench)


def _positive_rate(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive rate")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _peer_arguments(p: argparse.ArgumentParser) -> None:
    """`bench sink --peer kafka-connect`: against Kafka Connect with Iceberg's sink connector."""
    g = p.add_argument_group("sink --peer kafka-connect")
    g.add_argument("--peer", choices=["kafka-connect"], default=None, help="sink: measure against this peer")
    g.add_argument("--mode", choices=["backlog", "steady"], default="backlog")
    g.add_argument(
        "--rate",
        type=_positive_rate,
        default=None,
        help="steady: rows/s produced (2000); pipeline: images/s of one step instead of the search",
    )
    g.add_argument(
        "--duration",
        type=_positive_rate,
        default=None,
        help="steady: seconds produced (300); pipeline: seconds per step (30)",
    )
    g.add_argument(
        "--rounds",
        type=_positive,
        default=None,
        help="rounds per side (detector 3, flink 3; sink --peer: backlog 3, steady 1)",
    )
    g.add_argument(
        "--warmup-rounds",
        type=_non_negative,
        default=None,
        help="sink --peer: rounds of both sides before the measured ones, left out of the medians "
        "(backlog 1, steady 0)",
    )
    g.add_argument("--freshness-ms", type=_positive, default=None, help="roadwatch's sink (its default)")
    g.add_argument("--peer-commit-interval-ms", type=_positive, default=1000)
    g.add_argument("--peer-commit-timeout-ms", type=_positive, default=30_000)
    g.add_argument("--peer-offset-flush-interval-ms", type=_positive, default=500)
    g.add_argument("--peer-tasks", type=_positive, default=1)
    g.add_argument("--peer-max-poll-records", type=_positive, default=500)


def _bench(args: argparse.Namespace) -> int:
    emit(BENCHES[args.name](args), args.json)
    return 0
