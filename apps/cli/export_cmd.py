"""`roadwatch export dataset --where FILTERS --out DIR`: the hard examples among the stored events as a YOLO
dataset for fine-tuning the detector (`roadwatch.analytics.export`, `roadwatch.analytics.export_files`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from apps.cli.output import emit
from apps.cli.replay_cmd import share_arg
from roadwatch.analytics.export import FILTERS, parse_where
from roadwatch.analytics.settings import parse_since


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="stored events as datasets")
    actions = p.add_subparsers(dest="action", required=True)
    ds = actions.add_parser(
        "dataset", help="hard examples (escalated, degraded, disagreed) as a YOLO dataset for fine-tuning"
    )
    ds.add_argument(
        "--where",
        type=parse_where,
        required=True,
        help=f"filters {', '.join(FILTERS)}: comma-separated (any), joined by + (all)",
    )
    ds.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    ds.add_argument("--since", type=parse_since, help="events captured since (ISO, or 30m / 6h / 7d)")
    ds.add_argument("--source", help="only this source's events")
    ds.add_argument(
        "--val-fraction",
        type=share_arg,
        help="share of images in the val split (default: ROADWATCH_EXPORT_VAL_FRACTION, else 0.2)",
    )
    ds.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    ds.set_defaults(handler=_dataset)


def _dataset(args: argparse.Namespace) -> int:
    """Exit status 1 when no image was written."""
    from roadwatch.analytics.export import select
    from roadwatch.analytics.export_files import ExportSettings, check_out, write_dataset
    from roadwatch.analytics.tables import Tables

    given = {} if args.val_fraction is None else {"val_fraction": args.val_fraction}
    settings = ExportSettings(**given)
    policy = settings.checked_policy()
    check_out(args.out)  # before reading the tables: a bad --out fails at once
    chosen = select(Tables.open(), args.where, since=args.since, source=args.source)
    query = {"where": str(args.where), "since": args.since, "source": args.source}
    with tqdm(total=len(chosen), unit="img", desc="fetch", file=sys.stderr) as bar:
        written = write_dataset(
            chosen,
            args.out,
            policy,
            settings.limits(),
            val_fraction=settings.val_fraction,
            query={**query, "val_fraction": settings.val_fraction},
            progress=bar.update,
        )
    emit({"selected": len(chosen), **written.as_dict(), "out": str(args.out)}, args.json)
    return 0 if written.images else 1
