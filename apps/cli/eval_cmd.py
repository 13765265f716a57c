"""`roadwatch eval --dataset DIR [--json]`: the configured cascade on a labelled YOLO-format dataset."""

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
    p.add_argument(
        "--detector-only",
        action="store_true",
        help="no VLM tiers: escalations take the detection-only failover",
    )
    p.set_defaults(handler=_eval)


def _eval(args: argparse.Namespace) -> int:
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
