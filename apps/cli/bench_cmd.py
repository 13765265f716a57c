"""`roadwatch bench NAME [--json]`: side-by-side benchmarks; the last line of `--json` is one JSON object."""

from __future__ import annotations

import argparse
from collections.abc import Callable
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
    return detector.run(KafkaSettings(), dataset, MODELS_DIR)


def _vlm(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import vlm

    return vlm.run()


def _sink(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import sink

    return sink.run(KafkaSettings(), rows=args.events or 200_000)


def _flink(args: argparse.Namespace) -> dict[str, Any]:
    from apps.bench import flink

    return flink.run(KafkaSettings(), emit_every=args.emit_every)


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
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmarks, measured side by side against a bare baseline")
    p.add_argument("name", choices=sorted(BENCHES))
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.add_argument(
        "--events",
        type=int,
        default=None,
        help="produce: images sent (3000); sink: verdict rows (200,000); console: verdicts in the tables "
        "(1,000,000); replay: stored events (1,000,000)",
    )
    p.add_argument("--dataset", default=None)
    p.add_argument(
        "--emit-every",
        type=int,
        default=10,
        help="flink: a SourceState every N events of a source (10, the default)",
    )
    p.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    emit(BENCHES[args.name](args), args.json)
    return 0
