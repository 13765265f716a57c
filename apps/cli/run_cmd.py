"""`roadwatch run SERVICE`: one service in the foreground (Ctrl-C stops it after the current batch), through
the same `main()` as `python -m services.<name>`."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

from apps.plan import FLINK_PYTHON, supervisor
from roadwatch.errors import ConfigError
from roadwatch.serving import run_until_signalled
from roadwatch.settings import DATASETS_DIR, MODELS_DIR, ROOT
from roadwatch.stack import local
from schemas.records import VLM_TIERS

SERVICES = {
    "detector": ("YOLO / RT-DETR detector on images.v1", "services.detector.service"),
    "sink": ("Iceberg sink: detections, verdicts, source state, dead letters", "services.sink.service"),
    "maintainer": (
        "Iceberg maintainer: merges the sink's small files, expires snapshots",
        "services.maintainer.service",
    ),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run one service in the foreground")
    services = p.add_subparsers(dest="service", required=True)
    for name, (help_text, _) in SERVICES.items():
        services.add_parser(name, help=help_text).set_defaults(handler=_run)
    detector = services.choices["detector"]
    _shadow_options(detector, "images.v1", "detections tagged with NAME on detections.shadow.v1")
    detector.add_argument(
        "--model",
        action="append",
        metavar="PATH",
        help="a model file (under ROADWATCH_DETECTOR_MODELS_DIR, or absolute) instead of the configured"
        " ones; repeat for several",
    )
    everything = services.add_parser("all", help="stack up and every service, supervised, until Ctrl-C")
    everything.add_argument("--models", type=Path, default=MODELS_DIR)
    everything.add_argument(
        "--images",
        type=Path,
        default=DATASETS_DIR,
        help="the services read image files only under this folder",
    )
    everything.add_argument(
        "--instances",
        type=int,
        default=1,
        help="instances of the detector and of each tier, one consumer group each (cluster profile)",
    )
    everything.add_argument(
        "--shadow-model",
        type=Path,
        metavar="PATH",
        help="also run a shadow detector with this model (under --models, or absolute), named after the file",
    )
    everything.set_defaults(handler=_all)
    services.add_parser(
        "flink", help="the Flink confidence-state job (local mini-cluster, .venv-flink)"
    ).set_defaults(handler=_flink)
    vlm = services.add_parser("vlm", help="one VLM tier on escalations.<tier>.v1")
    vlm.add_argument("--tier", choices=VLM_TIERS, required=True)
    _shadow_options(vlm, "the tier's escalations", "opinions tagged with NAME on opinions.shadow.v1")
    vlm.add_argument("--backend", choices=("openai", "local"), help="over ROADWATCH_VLM_<TIER>_BACKEND")
    vlm.add_argument("--model", help="the endpoint's model name, over ROADWATCH_VLM_<TIER>_MODEL")
    vlm.add_argument("--base-url", help="the endpoint, over ROADWATCH_VLM_<TIER>_BASE_URL")
    vlm.set_defaults(handler=_vlm)


def _shadow_options(p: argparse.ArgumentParser, reads: str, writes: str) -> None:
    p.add_argument(
        "--shadow",
        metavar="NAME",
        help=f"run as the shadow variant NAME: reads {reads} in a consumer group of its own and writes only"
        f" {writes}, never a verdict or an escalation",
    )
    p.add_argument("--metrics-port", type=int, help="a shadow's metrics port (default: production's + 30)")


def _shadow_overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.shadow is None and args.metrics_port is not None:
        raise ConfigError("--metrics-port is a shadow's (production's: ROADWATCH_*_METRICS_PORT)")
    overrides: dict[str, Any] = {} if args.shadow is None else {"shadow": args.shadow}
    if args.metrics_port is not None:
        overrides["shadow_metrics_port"] = args.metrics_port
    return overrides


def _run(args: argparse.Namespace) -> int:
    if args.service == "detector":
        from roadwatch.vision.models import ModelSpec
        from services.detector.service import main as detector

        overrides = _shadow_overrides(args)
        if args.model:
            overrides["models"] = [ModelSpec(path=path) for path in args.model]
        detector(**overrides)
        return 0
    importlib.import_module(SERVICES[args.service][1]).main()
    return 0


def _vlm(args: argparse.Namespace) -> int:
    from services.vlm_tier.service import main

    overrides = _shadow_overrides(args)
    for name in ("backend", "model", "base_url"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    main(args.tier, **overrides)
    return 0


def _all(args: argparse.Namespace) -> int:
    stack = local.current()
    if args.instances < 1 or (args.instances > 1 and stack.profile != "cluster"):
        raise ConfigError(
            "--instances N (N > 1) runs on the cluster profile (`roadwatch --profile cluster run all`): the"
            " embedded stack's one broker is not where scale-out is tried"
        )
    stack.up()
    sup = supervisor(
        args.models,
        args.images,
        with_flink=not stack.runs_flink,
        instances=args.instances,
        shadow_model=args.shadow_model,
    )
    sup.start()
    try:
        sup.wait_ready()
        console = sup.running["console"].spec.ready_port
        sys.stderr.write(
            f"all services ready (logs in ~/.roadwatch/logs), console on http://127.0.0.1:{console}/; "
            "Ctrl-C stops them\n"
        )
        run_until_signalled(sup.watch)
    finally:
        sup.stop()
    return 0


def _flink(args: argparse.Namespace) -> int:
    """The job needs its own environment (PyFlink pins an old pyarrow): run it with .venv-flink's Python."""
    if not FLINK_PYTHON.exists():
        raise ConfigError(
            f"{FLINK_PYTHON} is missing: run scripts/setup.sh (it creates the Flink environment)"
        )
    return subprocess.call([str(FLINK_PYTHON), "-m", "flink_jobs.confidence_state"], cwd=ROOT)
