"""`roadwatch query NAME [EVENT_ID] [--since ...] [--source ...] [--json|--csv]`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.errors import ConfigError
from roadwatch.settings import ComponentSettings


class QuerySettings(ComponentSettings):
    section: ClassVar[str] = "query"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_QUERY_", frozen=True, extra="forbid")

    cost_per_call: dict[str, float] = Field(default_factory=lambda: {"local": 0.0, "openai": 0.002})


def parse_since(value: str) -> datetime:
    """`2026-11-27`, an ISO timestamp, or a relative `30m` / `6h` / `7d`."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--since {value!r}: expected ISO date/time or 30m / 6h / 7d") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from roadwatch.analytics.queries import QUERIES

    p = sub.add_parser("query", help="named analytics over the Iceberg tables (DuckDB over Arrow scans)")
    p.add_argument("name", choices=sorted(QUERIES))
    p.add_argument("event_id", nargs="?", help="for `why`: the event to trace")
    p.add_argument("--since", type=parse_since)
    p.add_argument("--source")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object (funnel) or array on the last line")
    fmt.add_argument("--csv", action="store_true")
    p.set_defaults(handler=_query)


def run_query(
    name: str, *, since: datetime | None = None, source: str | None = None, event_id: str | None = None
) -> list[dict[str, Any]]:
    from roadwatch.analytics.queries import QUERIES
    from roadwatch.analytics.tables import Tables

    if name == "why" and not event_id:
        raise ConfigError("`roadwatch query why` needs an EVENT_ID")
    con = Tables.open().duckdb(since=since, source=source, event_id=event_id if name == "why" else None)
    if name == "tiers":
        return QUERIES[name](con, QuerySettings().cost_per_call)
    return QUERIES[name](con)


def _query(args: argparse.Namespace) -> int:
    rows = run_query(args.name, since=args.since, source=args.source, event_id=args.event_id)
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
