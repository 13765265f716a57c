"""`roadwatch produce PATH|GLOB|URL... --source ID`."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from roadwatch.producer.api import produce
from roadwatch.producer.inputs import expand


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("produce", help="send images to images.v1 as ImageEvents")
    p.add_argument("inputs", nargs="+", help="files, folders, globs or URLs")
    p.add_argument("--source", required=True, help="source_id (camera); the Kafka key")
    p.set_defaults(handler=_produce)


def _produce(args: argparse.Namespace) -> int:
    total = len(expand(args.inputs))
    with tqdm(total=total, unit="img", desc=f"produce {args.source}", file=sys.stderr) as bar:
        report = produce(args.inputs, args.source, progress=bar.update)
    for f in report.failures:
        sys.stderr.write(f"FAILED {f.uri}: {f.reason}: {f.detail}\n")
    sys.stdout.write(f"sent {report.sent}, failed {len(report.failures)}\n")
    return 0 if report.ok else 1
