"""`roadwatch labels import --dataset DIR` and `roadwatch label EVENT_ID roadwork|clear`: labels onto
`labels.v1`, which the sink writes to the `labels` table."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from apps.cli.output import emit


def _classes(value: str) -> list[int]:
    try:
        return [int(c) for c in value.split(",") if c.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected class ids like 0,3, got {value!r}") from exc


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("labels", help="import labels (what images truly show) for the stored events")
    actions = p.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import", help="a YOLO-format dataset's image-level labels, matched to stored events by sha256"
    )
    imp.add_argument(
        "--dataset", type=Path, required=True, help="YOLO layout: images/<split>, labels/<split>"
    )
    imp.add_argument("--split", help="one split (default: every split under images/)")
    imp.add_argument(
        "--roadwork-classes",
        type=_classes,
        help="class ids that mean roadwork, e.g. 0,3 (default: ROADWATCH_LABELS_ROADWORK_CLASSES, else all)",
    )
    imp.add_argument("--by", help="who labelled (default: ROADWATCH_LABELS_LABELLED_BY, else the user)")
    imp.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    imp.set_defaults(handler=_import)

    one = sub.add_parser("label", help="label one stored event's image roadwork or clear")
    one.add_argument("event_id")
    one.add_argument("truth", choices=("roadwork", "clear"))
    one.add_argument("--by", help="who labels (default: ROADWATCH_LABELS_LABELLED_BY, else the user)")
    one.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    one.set_defaults(handler=_label)


def _import(args: argparse.Namespace) -> int:
    from roadwatch.analytics.tables import Tables
    from roadwatch.labels.core import match
    from roadwatch.labels.dataset import count_images, read_dataset
    from roadwatch.labels.publish import LabelPublisher
    from roadwatch.labels.settings import LabelSettings
    from roadwatch.labels.store import stored_images
    from roadwatch.settings import KafkaSettings

    settings = LabelSettings()
    classes = args.roadwork_classes if args.roadwork_classes is not None else settings.roadwork_classes
    total = count_images(args.dataset, args.split)
    with tqdm(total=total, unit="img", desc="hash", file=sys.stderr) as bar:
        images = read_dataset(args.dataset, args.split, classes, progress=bar.update)
    stored = stored_images(Tables.open(), {i.sha256 for i in images})
    matched = match(
        images,
        stored,
        labelled_by=args.by or settings.labelled_by,
        now=datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
    )
    publisher = LabelPublisher.open(KafkaSettings(), settings)
    with tqdm(total=len(matched.labels), unit="label", desc="send", file=sys.stderr) as bar:
        sent = publisher.publish(matched.labels, progress=bar.update)
    emit(
        {
            "images": len(images),
            "roadwork": sum(i.roadwork for i in images),
            "matched_images": len(images) - len(matched.unmatched),
            "unmatched_images": len(matched.unmatched),
            "labels_sent": sent,
            "topic": settings.topic,
        },
        args.json,
    )
    return 0


def _label(args: argparse.Namespace) -> int:
    from roadwatch.analytics.tables import Tables
    from roadwatch.labels.core import label, roadwork_of
    from roadwatch.labels.publish import LabelPublisher
    from roadwatch.labels.settings import LabelSettings
    from roadwatch.labels.store import stored_event
    from roadwatch.settings import KafkaSettings

    settings = LabelSettings()
    made = label(
        stored_event(Tables.open(), args.event_id),
        roadwork_of(args.truth),
        origin="human",
        labelled_by=args.by or settings.labelled_by,
        now=datetime.now(UTC),
        label_id=str(uuid.uuid4()),
    )
    LabelPublisher.open(KafkaSettings(), settings).publish([made])
    emit(made.model_dump(mode="json"), args.json)
    return 0
