"""`roadwatch replay`: what the stored events would have cost and how right they would have been under
other detector bands and tier accept levels (`roadwatch.analytics.replay`); `--dense` with dense
evaluation's opinions, `--rerun` asking the real tiers about what no tier saw
(`roadwatch.analytics.rerun`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from apps.cli.output import emit
from roadwatch.analytics.settings import parse_since
from roadwatch.settings import DATASETS_DIR
from schemas.records import VLM_TIERS

if TYPE_CHECKING:
    from roadwatch.analytics.replay import Policy
    from roadwatch.analytics.tables import Tables
    from schemas.evaluation import AskedBy
    from services.vlm_tier.settings import TierSettings


def share_arg(value: str) -> float:
    """A share in [0, 1] (an argparse type: a recall, a precision, an escalation rate, a split)."""
    try:
        share = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}") from exc
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}")
    return share


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
    p.add_argument(
        "--dense",
        action="store_true",
        help="fill in the tiers a verdict has no opinion of from dense evaluation (`eval --dense`)",
    )
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
    p.add_argument(
        "--rerun",
        action="store_true",
        help="ask the real tiers about the events that would reach a tier that never saw them "
        "(answers stored apart from production), then replay with their answers",
    )
    p.add_argument(
        "--images",
        type=Path,
        action="append",
        help="with --rerun: the tiers read image files under this folder (repeat for several; default: "
        "the tiers' ROADWATCH_VLM_*_ALLOWED_FILE_ROOTS, else the shared datasets, as `run all`)",
    )
    p.add_argument("--models", type=Path, help="with --rerun: the tiers' models folder")
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
    asked: tuple[AskedBy, ...] = ("dense",) if args.dense else ()
    cost = QuerySettings().tier_cost
    if args.rerun:
        emit(_rerun(Tables.open(), policy, args, asked, cost), args.json)
        return 0
    with tqdm(total=2, unit="step", desc="replay", file=sys.stderr) as bar:
        events = stored_events(Tables.open(), since=args.since, source=args.source, asked=asked)
        bar.update()
        result = figures(events, replay(events, policy), cost)
        bar.update()
    emit(result, args.json)
    return 0


def _rerun_settings(settings: TierSettings, args: argparse.Namespace) -> TierSettings:
    """A tier's own settings, with `--images` / `--models` when given; a tier allowed no file root reads
    the shared datasets (where `demo` and `run all` let it read)."""
    roots = args.images or settings.allowed_file_roots or [DATASETS_DIR]
    return settings.model_copy(
        update={"allowed_file_roots": roots, "models_dir": args.models or settings.models_dir}
    )


def _rerun(
    tables: Tables,
    policy: Policy,
    args: argparse.Namespace,
    asked: tuple[AskedBy, ...],
    cost: dict[str, float],
) -> dict[str, Any]:
    """Replay with `--rerun`: the figures, and what was asked of which tier and answered."""
    import pyarrow as pa

    from apps.evaluation.asking import Tiers
    from apps.evaluation.rerun import TierAsker
    from apps.tuning import asked_opinions, stored_table
    from roadwatch.analytics.opinions import OpinionStore
    from roadwatch.analytics.replay import figures
    from roadwatch.analytics.rerun import rerun
    from schemas.records import VlmTier
    from services.vlm_tier import service
    from services.vlm_tier.settings import tier_settings

    sources: tuple[AskedBy, ...] = (*asked, "rerun")
    store = OpinionStore.open(tables.catalog, tables.namespace, "rerun")
    tiers = Tiers(lambda t: service.build_pipeline(_rerun_settings(tier_settings(t), args)))
    with tqdm(total=0, unit="img", desc="rerun", file=sys.stderr) as bar:
        asker = TierAsker(tables, tiers, store, lambda: asked_opinions(tables, sources), bar.update)

        def ask(tier: VlmTier, rows: pa.Table) -> int:
            bar.total += rows.num_rows
            bar.refresh()
            return asker(tier, rows)

        try:
            done = rerun(lambda: stored_table(tables, args.since, args.source, sources), policy, ask)
        finally:
            tiers.close()
    return figures(done.events, done.paths, cost) | {
        "rerun": {
            "asked": done.asked,
            "answered": done.answered,
            "missing": dict(asker.missing),
            "rounds": done.rounds,
            "run_id": asker.run_id,
            "table": store.identifier,
        }
    }
