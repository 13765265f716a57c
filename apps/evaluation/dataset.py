"""A YOLO-format dataset as (image path, is_roadwork) pairs: any labelled box means roadwork."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from roadwatch.errors import ConfigError
from roadwatch.producer.inputs import IMAGE_SUFFIXES


@dataclass(frozen=True)
class Sample:
    path: Path
    roadwork: bool


def load_samples(root: Path, split: str = "val") -> list[Sample]:
    """Samples under `root/images/<split>` (or `root/images` when there is no split folder).

    Raises:
        ConfigError: when there is no `images/` folder or an image has no label file.
    """
    images = root / "images" / split if (root / "images" / split).is_dir() else root / "images"
    if not images.is_dir():
        raise ConfigError(f"{root} has no images/ folder (expected YOLO layout images/, labels/)")
    labels = root / "labels" / images.relative_to(root / "images")
    samples = []
    for img in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = labels / f"{img.stem}.txt"
        if not label.is_file():
            raise ConfigError(f"no label file {label} for {img}")
        samples.append(Sample(img, bool(label.read_text().strip())))
    return samples
