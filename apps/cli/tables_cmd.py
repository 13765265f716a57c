"""`roadwatch tables maintain`: compact small files and expire old snapshots once (offsets stay safe); the
same code as the maintainer service (`roadwatch.iceberg.maintenance`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tables", help="Iceberg table maintenance")
    actions = p.add_subparsers(dest="action", required=True)
    m = actions.add_parser(
        "maintain", help="compact small files, expire old snapshots, report files and sizes"
    )
    m.add_argument(
        "--older-than",
        default="7d",
        help="expire snapshots superseded longer ago than this (30m, 6h, 7d, ISO); never the chain back to"
        " the newest snapshot carrying the sink's offsets",
    )
    m.add_argument(
        "--min-files",
        type=int,
        default=4,
        help="merge the small files of a day partition with more files than this (the maintainer service"
        " does this continuously: `roadwatch run maintainer`)",
    )
    m.add_argument("--json", action="store_true")
    m.set_defaults(handler=_maintain)


def _maintain(args: argparse.Namespace) -> int:
    from roadwatch.analytics.settings import parse_since
    from roadwatch.iceberg.catalog import ensure_tables, open_catalog
    from roadwatch.iceberg.maintenance import maintain
    from roadwatch.iceberg.settings import CatalogSettings

    settings = CatalogSettings()
    cutoff = parse_since(args.older_than)
    tables = ensure_tables(open_catalog(settings), settings.namespace)
    reports = [
        maintain(name, t, min(cutoff, datetime.now(UTC)), args.min_files) for name, t in tables.items()
    ]
    for r in reports:
        sys.stdout.write(
            (
                json.dumps(asdict(r))
                if args.json
                else f"{r.table:14} files {r.files_before} -> {r.files_after} ({r.bytes_after} bytes), "
                f"{r.partitions_compacted} partitions compacted, {r.snapshots_expired} snapshots "
                f"expired, {r.snapshots_kept} kept"
            )
            + "\n"
        )
    return 0
