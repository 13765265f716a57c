"""`roadwatch report [--out DIR]`: charts and an HTML page from the Iceberg tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="write PNG charts and one HTML page of them")
    p.add_argument("--out", type=Path, default=Path("report"))
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from roadwatch.analytics.report import write_report
    from roadwatch.analytics.settings import QuerySettings

    page = write_report(args.out, cost_per_call=QuerySettings().cost_per_call)
    sys.stdout.write(f"{page}\n")
    return 0
