"""`roadwatch query NAME [EVENT_ID] [--since ...] [--source ...] [--variant NAME] [--json|--csv]`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from roadwatch.analytics.settings import parse_since


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from roadwatch.analytics.queries import QUERIES

    p = sub.add_parser("query", help="named analytics over the Iceberg tables (DuckDB over Arrow scans)")
    p.add_argument("name", choices=sorted(QUERIES))
    p.add_argument("event_id", nargs="?", help="for `why`: the event to trace")
    p.add_argument("--since", type=parse_since)
    p.add_argument("--source")
    p.add_argument(
        "--variant",
        metavar="NAME",
        help="for `models`: compare the shadow variant NAME ('*': every variant) with production on the same"
        " events",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object (funnel) or array on the last line")
    fmt.add_argument("--csv", action="store_true")
    p.set_defaults(handler=_query)


def _query(args: argparse.Namespace) -> int:
    from roadwatch.analytics.queries import run_query

    rows = run_query(
        args.name, since=args.since, source=args.source, event_id=args.event_id, variant=args.variant
    )
    out = sys.stdout
    if args.json:
        payload: Any = rows[0] if args.name == "funnel" else rows
        out.write(json.dumps(payload, default=str) + "\n")
    elif args.csv:
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(
                {k: json.dumps(v, default=str) if isinstance(v, list | dict) else v for k, v in r.items()}
                for r in rows
            )
    else:
        for r in rows:
            out.write(
                "  ".join(
                    f"{k}={json.dumps(v, default=str) if isinstance(v, list | dict) else v}"
                    for k, v in r.items()
                )
                + "\n"
            )
        if not rows:
            out.write("(no rows)\n")
    return 0
