"""`roadwatch eval --dataset DIR [--json]`: the configured cascade on a labelled YOLO-format dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="accuracy, MCC and escalation rate of the cascade on a labelled dataset")
    p.add_argument("--dataset", type=Path, required=True, help="YOLO layout: images/<split>, labels/<split>")
    p.add_argument("--split", default="val")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(handler=_eval)


def _eval(args: argparse.Namespace) -> int:
    from roadwatch.evaluation.dataset import load_samples
    from roadwatch.evaluation.run import evaluate
    from services.detector.scoring import Band
    from services.detector.service import build_pipeline
    from services.detector.settings import DetectorSettings

    settings = DetectorSettings()
    samples = load_samples(args.dataset, args.split)
    detector = build_pipeline(settings)
    with tqdm(total=len(samples), unit="img", desc="eval", file=sys.stderr) as bar:
        result = evaluate(samples, detector, Band(settings.band_low, settings.band_high), progress=bar.update)
    detector.close()
    figures = result.as_dict()
    if args.json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        for key, value in figures.items():
            sys.stdout.write(f"{key:16} {value}\n")
    return 0
