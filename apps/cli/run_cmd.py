"""`roadwatch run SERVICE`: one service in the foreground (Ctrl-C stops it after the current batch)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from roadwatch.errors import ConfigError
from roadwatch.serving import run_until_signalled
from roadwatch.settings import kafka_settings_from_env
from roadwatch.supervisor import Supervisor


def _detector() -> Callable[[threading.Event], None]:
    from services.detector.service import run
    from services.detector.settings import DetectorSettings

    settings, kafka = DetectorSettings(), kafka_settings_from_env()
    return lambda stop: run(settings, kafka, stop)


def _sink() -> Callable[[threading.Event], None]:
    from roadwatch.iceberg.settings import CatalogSettings
    from services.sink.service import run
    from services.sink.settings import SinkSettings

    settings, catalog, kafka = SinkSettings(), CatalogSettings(), kafka_settings_from_env()
    return lambda stop: run(settings, catalog, kafka, stop)


def _vlm(tier: str) -> Callable[[threading.Event], None]:
    from services.vlm_tier.service import run
    from services.vlm_tier.settings import tier_settings

    settings, kafka = tier_settings(tier), kafka_settings_from_env()  # type: ignore[arg-type]
    return lambda stop: run(settings, kafka, stop)


SERVICES: dict[str, tuple[str, Callable[[], Callable[[threading.Event], None]]]] = {
    "detector": ("YOLO / RT-DETR detector on images.v1", _detector),
    "sink": ("Iceberg sink: detections, verdicts, source state, dead letters", _sink),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run one service in the foreground")
    services = p.add_subparsers(dest="service", required=True)
    for name, (help_text, _) in SERVICES.items():
        services.add_parser(name, help=help_text).set_defaults(handler=_run)
    everything = services.add_parser("all", help="stack up and every service, supervised, until Ctrl-C")
    everything.add_argument("--models", type=Path, default=None)
    everything.set_defaults(handler=_all)
    services.add_parser(
        "flink", help="the Flink confidence-state job (local mini-cluster, .venv-flink)"
    ).set_defaults(handler=_flink)
    vlm = services.add_parser("vlm", help="one VLM tier on escalations.<tier>.v1")
    vlm.add_argument("--tier", choices=["fast", "power", "precision"], required=True)
    vlm.set_defaults(handler=lambda args: _run_with(lambda: _vlm(args.tier)))


def _all(args: argparse.Namespace) -> int:
    from apps.cli.demo_cmd import SHARED, supervisor
    from roadwatch.stack import control
    from roadwatch.stack.settings import StackSettings

    control.up(StackSettings())
    sup = supervisor(args.models or SHARED / "models")
    sup.start()
    try:
        sup.wait_ready()
        sys.stderr.write("all services ready (logs in ~/.roadwatch/logs); Ctrl-C stops them\n")
        run_until_signalled(lambda stop: _watch(sup, stop))
    finally:
        sup.stop()
    return 0


def _watch(sup: Supervisor, stop: threading.Event) -> None:
    while not stop.wait(2):
        sup.check()


def _flink(args: argparse.Namespace) -> int:
    """The job needs its own environment (PyFlink pins an old pyarrow): run it with .venv-flink's Python."""
    python = Path(__file__).resolve().parents[2] / ".venv-flink" / "bin" / "python"
    if not python.exists():
        raise ConfigError(f"{python} is missing: run scripts/setup.sh (it creates the Flink environment)")
    return subprocess.call([str(python), "-m", "flink_jobs.confidence_state"], cwd=python.parents[2])


def _run(args: argparse.Namespace) -> int:
    return _run_with(SERVICES[args.service][1])


def _run_with(build: Callable[[], Callable[[threading.Event], None]]) -> int:
    run_until_signalled(build())
    return 0
