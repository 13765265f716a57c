"""`roadwatch replay`: what the stored events would have cost and how right they would have been under
other detector bands and tier accept levels (`roadwatch.analytics.replay`)."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from apps.cli.output import emit
from roadwatch.analytics.settings import parse_since
from schemas.records import VLM_TIERS


def band_arg(value: str) -> tuple[str, tuple[float, float]]:
    """`SOURCE=LOW:HIGH`."""
    source, _, band = value.rpartition("=")
    low, _, high = band.partition(":")
    try:
        parsed = (float(low), float(high))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected SOURCE=LOW:HIGH, got {value!r}") from exc
    if not source:
        raise argparse.ArgumentTypeError(f"expected SOURCE=LOW:HIGH, got {value!r}")
    return source, parsed


def accept_arg(value: str) -> tuple[str, float]:
    """`TIER=LEVEL`."""
    tier, _, level = value.partition("=")
    if tier not in VLM_TIERS[:-1]:
        raise argparse.ArgumentTypeError(f"expected TIER=LEVEL with TIER one of {list(VLM_TIERS[:-1])}")
    try:
        return tier, float(level)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected TIER=LEVEL, got {value!r}") from exc


def add_policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=parse_since, help="events captured since (ISO, or 30m / 6h / 7d)")
    p.add_argument("--source", help="only this source's events")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("replay", help="what-if over stored events: other bands and accept levels")
    p.add_argument("--low", type=float, help="every source's band: clear below this")
    p.add_argument("--high", type=float, help="every source's band: roadwork at or above this")
    p.add_argument(
        "--band", type=band_arg, action="append", default=[], help="one source's band, SOURCE=LOW:HIGH"
    )
    p.add_argument(
        "--accept", type=accept_arg, action="append", default=[], help="a tier's accept level, TIER=LEVEL"
    )
    add_policy_options(p)
    p.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from apps.tuning import production_policy, stored_events
    from roadwatch.analytics.replay import figures, replay
    from roadwatch.analytics.settings import QuerySettings
    from roadwatch.analytics.tables import Tables
    from roadwatch.errors import ConfigError

    try:
        policy = production_policy(
            low=args.low, high=args.high, bands=dict(args.band), accept=dict(args.accept)
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    with tqdm(total=2, unit="step", desc="replay", file=sys.stderr) as bar:
        events = stored_events(Tables.open(), since=args.since, source=args.source)
        bar.update()
        result = figures(events, replay(events, policy), QuerySettings().tier_cost)
        bar.update()
    emit(result, args.json)
    return 0
