"""`roadwatch eval --dataset DIR [--json]`: the configured cascade on a labelled YOLO-format dataset;
`--dense`: every tier's opinion of every image, stored for replay and tune (`apps.evaluation.dense`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from apps.cli.output import emit
from schemas.records import VLM_TIERS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="accuracy, MCC and escalation rate of the cascade on a labelled dataset")
    p.add_argument("--dataset", type=Path, required=True, help="YOLO layout: images/<split>, labels/<split>")
    p.add_argument("--split", default="val")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--detector-only",
        action="store_true",
        help="no VLM tiers: escalations take the detection-only failover",
    )
    mode.add_argument(
        "--dense",
        action="store_true",
        help="ask every tier about every image and store the opinions (namespace <namespace>_eval) "
        "for `replay --dense` and `tune --dense`",
    )
    p.set_defaults(handler=_eval)


def _eval(args: argparse.Namespace) -> int:
    if args.dense:
        return _dense(args)
    from apps.evaluation.cascade import LadderEscalator
    from apps.evaluation.dataset import load_samples
    from apps.evaluation.run import Cascade, evaluate
    from services.detector.service import build_pipeline
    from services.detector.settings import DetectorSettings
    from services.vlm_tier import service
    from services.vlm_tier.settings import tier_settings

    settings = DetectorSettings()
    samples = load_samples(args.dataset, args.split)
    detector = build_pipeline(settings)
    escalator = (
        None
        if args.detector_only
        else LadderEscalator({t: service.build_pipeline(tier_settings(t)) for t in VLM_TIERS})
    )
    cascade = Cascade(settings, detector, tier_settings(VLM_TIERS[0]).ladder(), escalator)
    try:
        with tqdm(total=len(samples), unit="img", desc="eval", file=sys.stderr) as bar:
            result = evaluate(samples, cascade, progress=bar.update)
    finally:
        detector.close()
        if escalator is not None:
            escalator.close()
    emit(result.as_dict(), args.json)
    return 0


def _dense(args: argparse.Namespace) -> int:
    import uuid

    from apps.evaluation import dense
    from apps.evaluation.asking import Tiers
    from apps.evaluation.dataset import load_samples
    from roadwatch.analytics.opinions import OpinionStore
    from roadwatch.analytics.tables import Tables
    from services.detector.service import build_pipeline
    from services.detector.settings import DetectorSettings
    from services.vlm_tier import service
    from services.vlm_tier.settings import tier_settings

    settings = DetectorSettings()
    samples = load_samples(args.dataset, args.split)
    tables = Tables.open()
    store = OpinionStore.open(tables.catalog, tables.namespace, "dense")
    detector = build_pipeline(settings)
    tiers = Tiers(lambda t: service.build_pipeline(tier_settings(t)))
    run_id = str(uuid.uuid4())
    try:
        with tqdm(
            total=len(samples) * (1 + len(VLM_TIERS)), unit="ask", desc="dense", file=sys.stderr
        ) as bar:
            reqs = dense.requests(settings, detector, samples, bar.update)
            opinions = dense.ask_every_tier(tiers, reqs, bar.update)
    finally:
        detector.close()
        tiers.close()
    rows = dense.rows(samples, reqs, opinions, run_id)
    store.append(rows)
    out = {"images": len(samples), "opinions": len(rows), "run_id": run_id, "table": store.identifier}
    emit(out | {"tiers": dense.summary(samples, opinions)}, args.json)
    return 0
