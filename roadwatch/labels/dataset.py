"""A YOLO-format dataset's image-level labels: an image is `roadwork` when one of its boxes is of a roadwork
class, else `clear` (an empty label file is a negative). Layout: `images/<split>/x.jpg` with
`labels/<split>/x.txt` (or `images/` and `labels/` without splits); a box line is `class cx cy w h`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from roadwatch.errors import InvalidInputError
from roadwatch.producer.inputs import IMAGE_SUFFIXES


@dataclass(frozen=True)
class DatasetImage:
    """One image of a dataset and what its label file says."""

    path: Path
    sha256: str
    roadwork: bool
    reference: str  # the image's path under the dataset root


def has_roadwork(text: str, classes: Collection[int] | None, where: str = "label") -> bool:
    """Whether a YOLO label file's `text` has a box of one of `classes` (None: of any class).

    Raises:
        InvalidInputError: `bad_label`, a line that is not `class cx cy w h` with an integer class.
    """
    found = False
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5 or not parts[0].isdigit():
            raise InvalidInputError(
                "bad_label", f"{where}:{n}: expected `class cx cy w h`, got {line[:80]!r}"
            )
        found = found or classes is None or int(parts[0]) in classes
    return found


def image_dirs(root: Path, split: str | None) -> list[Path]:
    """The image folders of `root`: `images/<split>`, every split under `images/`, or `images/` itself.

    Raises:
        InvalidInputError: `no_dataset`, no such folder.
    """
    images = root / "images"
    if split is not None:
        chosen = [images / split]
    else:
        chosen = sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
        chosen = chosen or [images]
    if not all(p.is_dir() for p in chosen):
        wanted = f"images/{split}" if split else "images/"
        raise InvalidInputError(
            "no_dataset", f"{root} has no {wanted} folder (YOLO layout: images/, labels/)"
        )
    return chosen


def read_dataset(
    root: Path,
    split: str | None = None,
    classes: Collection[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[DatasetImage]:
    """Every image of the dataset with its sha256 and image-level label, in path order.

    Raises:
        InvalidInputError: `no_dataset` (no images folder), `no_label` (an image without a label file),
            `bad_label` (a malformed label line).
    """
    out = []
    for folder in image_dirs(root, split):
        labels = root / "labels" / folder.relative_to(root / "images")
        for img in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            label = labels / f"{img.stem}.txt"
            if not label.is_file():
                raise InvalidInputError("no_label", f"no label file {label} for {img}")
            roadwork = has_roadwork(label.read_text(), classes, str(label))
            digest = hashlib.sha256(img.read_bytes()).hexdigest()
            out.append(DatasetImage(img, digest, roadwork, str(img.relative_to(root))))
            if progress is not None:
                progress(1)
    return out


def count_images(root: Path, split: str | None = None) -> int:
    """How many images `read_dataset` will read (for a progress bar)."""
    return sum(
        1
        for folder in image_dirs(root, split)
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES
    )
