"""`roadwatch report [--out DIR] [--since S]`: the console's Overview as one self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from roadwatch.analytics.settings import parse_since


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="write the Overview (funnel, tiers, charts) as one HTML file")
    p.add_argument("--out", type=Path, default=Path("report"))
    p.add_argument("--since", type=parse_since, help="2026-11-27, an ISO time, or 30m / 6h / 7d")
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from apps.console.report import write_report

    page = write_report(args.out, since=args.since)
    sys.stdout.write(f"{page}\n")
    return 0
