"""`roadwatch run SERVICE`: one service in the foreground (Ctrl-C stops it after the current batch)."""

from __future__ import annotations

import argparse

from roadwatch.runner import run_until_signalled
from roadwatch.settings import kafka_settings_from_env


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run one service in the foreground")
    services = p.add_subparsers(dest="service", required=True)
    services.add_parser("detector", help="YOLO / RT-DETR detector on images.v1").set_defaults(
        handler=_detector
    )


def _detector(args: argparse.Namespace) -> int:
    from services.detector.service import run
    from services.detector.settings import DetectorSettings

    settings, kafka = DetectorSettings(), kafka_settings_from_env()
    run_until_signalled(lambda stop: run(settings, kafka, stop))
    return 0
