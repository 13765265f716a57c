"""`roadwatch tune`: from labelled stored events, the bands (global, and per source with enough labels) of
least tier cost that meet `--min-recall` / `--min-precision` / `--max-escalation`, with predicted figures
and bootstrap intervals (`roadwatch.analytics.tune`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tqdm import tqdm

from apps.cli.output import emit
from apps.cli.replay_cmd import add_policy_options, production_policy


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}") from exc
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}")
    return share


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tune", help="the cheapest bands that meet an accuracy target on labelled events")
    p.add_argument("--min-recall", type=_share)
    p.add_argument("--min-precision", type=_share)
    p.add_argument("--max-escalation", type=_share)
    p.add_argument(
        "--max-unknown",
        type=_share,
        default=0.0,
        help="share of labelled events a band may send to a tier "
        "that never saw them (default 0: only bands the stored opinions score exactly)",
    )
    p.add_argument("--step", type=_share, default=0.05, help="grid step of the bands tried (0.05)")
    p.add_argument(
        "--min-source-events",
        type=int,
        default=30,
        help="labelled events a source needs for a band of its own",
    )
    p.add_argument("--bootstrap", type=int, default=200, help="resamples for the intervals (200)")
    add_policy_options(p)
    p.set_defaults(handler=_tune)


def _tune(args: argparse.Namespace) -> int:
    import numpy as np

    from roadwatch.analytics import stored
    from roadwatch.analytics.settings import QuerySettings
    from roadwatch.analytics.tables import Tables
    from roadwatch.analytics.tune import Target, as_dict, choose, subset
    from roadwatch.errors import ConfigError
    from services.detector.settings import DetectorSettings

    if args.step <= 0:
        raise ConfigError("--step must be above 0")
    target = Target(args.min_recall, args.min_precision, args.max_escalation, args.max_unknown)
    base, cost = production_policy(), QuerySettings().tier_cost
    default = DetectorSettings().band()
    events = stored.load(Tables.open(), (default.low, default.high), since=args.since, source=args.source)
    labelled = subset(events, events.truth >= 0)
    if not len(labelled):
        raise ConfigError("no labelled events: import labels first (`roadwatch labels import`)")
    counts = np.bincount(labelled.source, minlength=len(labelled.sources))
    own = [(i, s) for i, s in enumerate(labelled.sources) if counts[i] >= args.min_source_events]
    out: dict[str, Any] = {"target": vars(target), "labelled_events": len(labelled)}
    with tqdm(total=1 + len(own), unit="band", desc="tune", file=sys.stderr) as bar:
        overall = choose(labelled, base, target, cost, step=args.step, rounds=args.bootstrap)
        bar.update()
        out["global"] = as_dict(overall) if overall else None
        out["per_source"] = {}
        for code, source in own:
            mine = choose(
                subset(labelled, labelled.source == code),
                base,
                target,
                cost,
                step=args.step,
                rounds=args.bootstrap,
            )
            out["per_source"][source] = as_dict(mine) if mine else None
            bar.update()
    emit(out, args.json)
    return 0 if overall else 1
