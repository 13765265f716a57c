"""Write hard examples (`roadwatch.analytics.export`) as a YOLO dataset: `images/<split>/<sha256>.<ext>`,
`labels/<split>/<sha256>.txt` (the detector's boxes on a roadwork image; empty on a clear one), `data.yaml`
for Ultralytics and `manifest.json` with each image's provenance.

Images are fetched as the services fetch them: under the allow-list of `ROADWATCH_EXPORT_*`, within its
byte and pixel limits, the stored sha256 checked. An image that cannot be had (sent inline, outside the
allow-list, gone, not an image) and a roadwork image without boxes (nothing to train a box on) are left
out of the dataset and listed in the manifest's `skipped` with the reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.analytics.export import Example, class_names, split_of, yolo_lines
from roadwatch.errors import ConfigError, InvalidInputError
from roadwatch.images.access import ImageAccess
from roadwatch.images.fetch import FetchPolicy
from roadwatch.images.inspect import ImageLimits, inspect_image
from roadwatch.images.load import load_bytes
from roadwatch.settings import ComponentSettings

SPLITS = ("train", "val")
SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/bmp": ".bmp"}


class ExportSettings(ComponentSettings, ImageAccess):
    """`roadwatch export` (`ROADWATCH_EXPORT_*`): which stored images it may fetch (the services' kind of
    allow-list and limits) and the share of images put in the `val` split."""

    section: ClassVar[str] = "export"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_EXPORT_", frozen=True, extra="forbid")

    val_fraction: float = Field(0.2, ge=0.0, le=1.0)

    def checked_policy(self) -> FetchPolicy:
        """The fetch policy.

        Raises:
            ConfigError: no allow-list names anything, so no image could be read.
        """
        if not (self.allowed_file_roots or self.allowed_http_hosts or self.allowed_s3_buckets):
            raise ConfigError(
                "no image may be fetched: set ROADWATCH_EXPORT_ALLOWED_FILE_ROOTS "
                "(or _ALLOWED_HTTP_HOSTS, _ALLOWED_S3_BUCKETS) to where the stored images are"
            )
        return self.fetch_policy()


@dataclass
class Written:
    """What an export wrote and left out."""

    splits: Counter[str] = field(default_factory=Counter)
    roadwork: int = 0
    boxes: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def images(self) -> int:
        return sum(self.splits.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "roadwork": self.roadwork,
            "clear": self.images - self.roadwork,
            "boxes": self.boxes,
            **{s: self.splits[s] for s in SPLITS},
            "skipped": sum(self.skipped.values()),
            "skipped_reasons": dict(sorted(self.skipped.items())),
        }


def check_out(out: Path) -> None:
    """Raise ConfigError unless `out` is missing or an empty folder (an export never overwrites)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: not an empty folder (an export never overwrites)")


def write_dataset(
    chosen: Sequence[Example],
    out: Path,
    policy: FetchPolicy,
    limits: ImageLimits,
    *,
    val_fraction: float,
    query: Mapping[str, Any],
    progress: Callable[[int], object] = lambda n: None,
) -> Written:
    """Fetch and write every example under `out` (see the module), `progress(1)` after each; `query` (the
    filters it was chosen with) goes into the manifest.

    Raises:
        ConfigError: `out` is neither missing nor an empty folder.
    """
    check_out(out)
    for kind in ("images", "labels"):
        for split in SPLITS:
            (out / kind / split).mkdir(parents=True, exist_ok=True)
    names = class_names(chosen)
    written, entries, skipped = Written(), [], []
    for example in chosen:
        try:
            entries.append(_write_one(example, out, policy, limits, names, val_fraction, written))
        except InvalidInputError as exc:
            written.skipped[exc.reason] += 1
            skipped.append({**_provenance(example), "reason": exc.reason, "detail": exc.detail})
        progress(1)
    (out / "data.yaml").write_text(data_yaml(out, names, written.splits))
    manifest = {
        "created_at": datetime.now(UTC).isoformat(),
        "query": dict(query),
        "classes": names,
        "counts": written.as_dict(),
        "images": entries,
        "skipped": skipped,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return written


def _write_one(
    example: Example,
    out: Path,
    policy: FetchPolicy,
    limits: ImageLimits,
    names: list[str],
    val_fraction: float,
    written: Written,
) -> dict[str, Any]:
    """Write one example's image and label file; its manifest entry.

    Raises:
        InvalidInputError: `no_image`, `no_boxes`, or a reason of fetching or inspecting the image.
    """
    truth = example.truth
    if truth.roadwork and not example.boxes:
        raise InvalidInputError("no_boxes", "roadwork, but the detector drew no box to train on")
    if example.image_uri is None:
        raise InvalidInputError("no_image", "the image was sent inline and is not kept")
    data = load_bytes(example.image_uri, None, example.image_sha256, policy)
    info = inspect_image(data, limits)
    split = split_of(example.image_sha256, val_fraction)
    image = Path("images", split, example.image_sha256 + SUFFIXES[info.content_type])
    label = Path("labels", split, example.image_sha256 + ".txt")
    lines = yolo_lines(example.boxes, names)
    (out / image).write_bytes(data)
    (out / label).write_text("".join(f"{line}\n" for line in lines))
    written.splits[split] += 1
    written.roadwork += truth.roadwork
    written.boxes += len(lines)
    return {
        "image": str(image),
        "label": str(label),
        "split": split,
        "boxes": len(lines),
        "dropped_boxes": len(example.newest.boxes) - len(lines),
        **_provenance(example),
    }


def _provenance(example: Example) -> dict[str, Any]:
    truth = example.truth
    return {
        "image_sha256": example.image_sha256,
        "image_uri": example.image_uri,
        "roadwork": truth.roadwork,
        "truth": {"origin": truth.origin, "by": truth.labelled_by, "label_id": truth.label_id},
        "events": [
            {
                "event_id": e.event_id,
                "source_id": e.source_id,
                "captured_at": e.captured_at,
                "matched": sorted(e.flags),
                "verdict": e.verdict,
                "decided_by": e.decided_by,
                "tier_path": list(e.tier_path),
                "degraded_reason": e.degraded_reason,
                "detector_score": e.detector_score,
                "detector_models": list(e.models),
                "opinions": [
                    {k: o[k] for k in ("tier", "backend", "model", "outcome", "roadwork", "confidence")}
                    for o in e.opinions
                ],
            }
            for e in example.events
        ],
    }


def data_yaml(out: Path, names: list[str], splits: Counter[str]) -> str:
    """Ultralytics' dataset file; a split without images borrows the other's, so both always resolve."""
    paths = {s: f"images/{s}" for s in SPLITS}
    if not splits["val"]:
        paths["val"] = paths["train"]
    elif not splits["train"]:
        paths["train"] = paths["val"]
    return (
        "# written by `roadwatch export dataset` (JSON values: valid YAML)\n"
        f"path: {json.dumps(str(out.resolve()))}\n"
        f"train: {paths['train']}\n"
        f"val: {paths['val']}\n"
        f"nc: {len(names)}\n"
        f"names: {json.dumps(names)}\n"
    )
