"""`roadwatch demo`: the embedded stack end to end on the shared images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from roadwatch.producer.api import produce
from roadwatch.producer.inputs import expand
from roadwatch.stack import control
from roadwatch.stack.settings import StackSettings

DEFAULT_DATA = Path("../shared/datasets")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="start the local stack and stream the shared images through it")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="holds vtti-workzone/, tracon/")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    kafka = control.up(StackSettings())
    vtti = str(args.data / "vtti-workzone")
    with tqdm(total=len(expand([vtti])), unit="img", desc="produce cam-1", file=sys.stderr) as bar:
        report = produce([vtti], "cam-1", kafka=kafka, progress=bar.update)
    sys.stdout.write(f"sent {report.sent} images to images.v1 on {kafka.bootstrap_servers}\n")
    return 0 if report.ok else 1
