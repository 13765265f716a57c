"""`roadwatch tune`: from labelled stored events, the bands (global, and per source with enough labels) of
least tier cost that meet `--min-recall` / `--min-precision` / `--max-escalation`, with predicted figures,
bootstrap intervals and the cost-vs-MCC Pareto front (`roadwatch.analytics.tune`); `--apply` publishes them
to `thresholds.v1` with their provenance (`roadwatch.analytics.apply`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from apps.cli.output import emit
from apps.cli.replay_cmd import add_policy_options, share_arg

if TYPE_CHECKING:
    from roadwatch.analytics.settings import QuerySettings
    from roadwatch.analytics.tune import Choice, Target
    from schemas.evaluation import AskedBy


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tune", help="the cheapest bands that meet an accuracy target on labelled events")
    p.add_argument("--min-recall", type=share_arg)
    p.add_argument("--min-precision", type=share_arg)
    p.add_argument("--max-escalation", type=share_arg)
    p.add_argument(
        "--max-unknown",
        type=share_arg,
        default=0.0,
        help="share of labelled events a band may send to a tier "
        "that never saw them (default 0: only bands the stored opinions score exactly)",
    )
    p.add_argument("--step", type=share_arg, default=0.05, help="grid step of the bands tried (0.05)")
    p.add_argument(
        "--min-source-events",
        type=int,
        default=30,
        help="labelled events a source needs for a band of its own",
    )
    p.add_argument("--bootstrap", type=int, default=200, help="resamples for the intervals (200)")
    p.add_argument(
        "--apply",
        action="store_true",
        help="publish the bands to thresholds.v1 (the global one as every source's default)",
    )
    p.add_argument(
        "--drift",
        type=share_arg,
        help="how far the Flink job may move an applied band's edges "
        "(default ROADWATCH_QUERY_APPLIED_DRIFT, 0.05)",
    )
    p.add_argument("--by", help="who applies them (default ROADWATCH_LABELS_LABELLED_BY: the user)")
    add_policy_options(p)
    p.set_defaults(handler=_tune)


def _tune(args: argparse.Namespace) -> int:
    import numpy as np

    from apps.tuning import labelled_events, production_policy
    from roadwatch.analytics.settings import QuerySettings
    from roadwatch.analytics.tables import Tables
    from roadwatch.analytics.tune import Target, as_dict, choose, pareto, scan, subset
    from roadwatch.errors import ConfigError

    if args.step <= 0:
        raise ConfigError("--step must be above 0")
    target = Target(args.min_recall, args.min_precision, args.max_escalation, args.max_unknown)
    settings = QuerySettings()
    base, cost = production_policy(), settings.tier_cost
    asked: tuple[AskedBy, ...] = ("dense",) if args.dense else ()
    labelled = labelled_events(Tables.open(), since=args.since, source=args.source, asked=asked)
    if not len(labelled):
        raise ConfigError("no labelled events: import labels first (`roadwatch labels import`)")
    counts = np.bincount(labelled.source, minlength=len(labelled.sources))
    own = [(i, s) for i, s in enumerate(labelled.sources) if counts[i] >= args.min_source_events]
    out: dict[str, Any] = {"target": vars(target), "labelled_events": len(labelled)}
    with tqdm(total=1 + len(own), unit="band", desc="tune", file=sys.stderr) as bar:
        points = scan(labelled, base, cost, step=args.step)
        overall = choose(labelled, base, target, cost, rounds=args.bootstrap, points=points)
        bar.update()
        out["global"] = as_dict(overall) if overall else None
        per_source: dict[str, Choice | None] = {}
        for code, source in own:
            mine = subset(labelled, labelled.source == code)
            per_source[source] = choose(mine, base, target, cost, step=args.step, rounds=args.bootstrap)
            bar.update()
    out["per_source"] = {s: as_dict(c) if c else None for s, c in per_source.items()}
    out["pareto"] = [
        {"low": p.low, "high": p.high, **{k: p.figures[k] for k in ("cost_per_event", "mcc")}}
        for p in pareto(points, target.max_unknown)
    ]
    if args.apply and overall is not None:
        drift = settings.applied_drift if args.drift is None else args.drift
        out["applied"] = _apply(overall, per_source, target, drift, args.by, settings)
    emit(out, args.json)
    return 0 if overall else 1


def _apply(
    overall: Choice,
    per_source: dict[str, Choice | None],
    target: Target,
    drift: float | None,
    by: str | None,
    settings: QuerySettings,
) -> dict[str, Any]:
    """Publish the chosen bands; what was applied (topic, when, the records' sources and bands)."""
    from datetime import UTC, datetime

    from roadwatch.analytics.apply import applied_bands
    from roadwatch.kafka.clients import idempotent_producer
    from roadwatch.kafka.codec import encode
    from roadwatch.kafka.produce import deliver
    from roadwatch.labels.settings import LabelSettings
    from roadwatch.settings import KafkaSettings

    by = by or LabelSettings().labelled_by
    records = applied_bands(overall, per_source, target, drift=drift, applied_by=by, now=datetime.now(UTC))
    producer = idempotent_producer(KafkaSettings())
    keyed = [(r.source_id.encode(), encode(r)) for r in records]
    deliver(producer, settings.thresholds_topic, keyed, settings.delivery_timeout_s)
    return {
        "topic": settings.thresholds_topic,
        "at": records[0].updated_at.isoformat(),
        "by": by,
        "drift": drift,
        "bands": {r.source_id: [r.low, r.high] for r in records},
    }
