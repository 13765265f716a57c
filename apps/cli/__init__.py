"""The `roadwatch` command: each subcommand lives in its own small module and registers itself here. A bad
setting or any RoadwatchError ends it with one line, `roadwatch: error: ...`, and exit status 2 (the
traceback too at `--log-level DEBUG`)."""

from __future__ import annotations

import argparse
import os

from apps.cli import (
    bench_cmd,
    demo_cmd,
    eval_cmd,
    export_cmd,
    labels_cmd,
    produce_cmd,
    query_cmd,
    replay_cmd,
    report_cmd,
    run_cmd,
    stack_cmd,
    tables_cmd,
    tune_cmd,
    ui_cmd,
)
from roadwatch.logs import setup_logging
from roadwatch.settings import PROFILES
from roadwatch.startup import EXIT_CODE, STARTUP_ERRORS, report

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
MODULES = [
    stack_cmd,
    produce_cmd,
    run_cmd,
    demo_cmd,
    eval_cmd,
    labels_cmd,
    query_cmd,
    replay_cmd,
    tune_cmd,
    export_cmd,
    report_cmd,
    tables_cmd,
    ui_cmd,
    bench_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadwatch", description=__doc__)
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS)
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help="which stack every setting points at: embedded (default) or cluster (ROADWATCH_PROFILE)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.register(sub)
    stack_cmd.register_topics(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:  # parsing too: an option's type may read settings (`--since`)
        args = build_parser().parse_args(argv)
        if args.profile:  # settings are built later, in the handler; services it starts inherit it
            os.environ["ROADWATCH_PROFILE"] = args.profile
        setup_logging(args.log_level)
        code: int = args.handler(args)
    except STARTUP_ERRORS as exc:
        report("roadwatch", exc)
        return EXIT_CODE
    return code
