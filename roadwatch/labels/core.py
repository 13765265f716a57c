"""Labels built from what was stored (pure): a dataset's image-level labels matched to the stored events by
image sha256, and one person's label of one event."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from roadwatch.errors import InvalidInputError
from roadwatch.labels.dataset import DatasetImage
from schemas import Label
from schemas.records import LabelOrigin

WORDS = {"roadwork": True, "clear": False}


@dataclass(frozen=True)
class StoredImage:
    """An event the tables hold, as a label needs it."""

    event_id: str
    source_id: str
    captured_at: datetime
    image_sha256: str


@dataclass(frozen=True)
class Matched:
    labels: list[Label]
    unmatched: list[DatasetImage]  # dataset images no stored event shows


def roadwork_of(word: str) -> bool:
    """`roadwork` → True, `clear` → False.

    Raises:
        InvalidInputError: `bad_label`, any other word.
    """
    if word not in WORDS:
        raise InvalidInputError("bad_label", f"a label is `roadwork` or `clear`, got {word!r}")
    return WORDS[word]


def label(
    stored: StoredImage,
    roadwork: bool,
    *,
    origin: LabelOrigin,
    labelled_by: str,
    now: datetime,
    label_id: str,
    reference: str | None = None,
) -> Label:
    """The label of one stored event's image."""
    return Label(
        event_id=stored.event_id,
        source_id=stored.source_id,
        captured_at=stored.captured_at,
        label_id=label_id,
        image_sha256=stored.image_sha256,
        roadwork=roadwork,
        origin=origin,
        labelled_by=labelled_by,
        reference=reference,
        labelled_at=now,
    )


def match(
    images: Iterable[DatasetImage],
    stored: Mapping[str, list[StoredImage]],
    *,
    labelled_by: str,
    now: datetime,
    new_id: Callable[[], str],
) -> Matched:
    """A `dataset` label for every stored event (`stored`: by image sha256) whose image is in `images`."""
    labels, unmatched = [], []
    for image in images:
        events = stored.get(image.sha256, [])
        if not events:
            unmatched.append(image)
        for event in events:
            labels.append(
                label(
                    event,
                    image.roadwork,
                    origin="dataset",
                    labelled_by=labelled_by,
                    now=now,
                    label_id=new_id(),
                    reference=image.reference,
                )
            )
    return Matched(labels, unmatched)
