"""Hard examples: which stored images to export as a YOLO dataset for fine-tuning the detector (pure but for
`select`, which reads the tables).

An event (its newest verdict, its newest detection, the newest label of its image) has these flags:

- `escalated`: the detector escalated it (a detection decided `escalate`, or the verdict holds opinions);
- `degraded`: its verdict was degraded (a tier failed over);
- `tier-disagreed`: a tier answered other than the detector leaned (its score against its band's midpoint);
- `label-disagreed`: the newest label of its image says other than its verdict.

`--where` is a comma-separated list of alternatives, each one flag or several joined by `+` (all of them):
`escalated,degraded` picks either, `escalated+label-disagreed` both. An image is exported once, with every
matching event of it; its truth is its newest label, else its newest matching event's verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from roadwatch.errors import ConfigError
from roadwatch.vision.scoring import DEFAULT_BAND

if TYPE_CHECKING:
    from roadwatch.analytics.tables import Tables

FILTERS = ("escalated", "degraded", "tier-disagreed", "label-disagreed")
SQL = """
    with v as (
        select event_id, source_id, captured_at, roadwork, decided_by, tier_path, opinions, detector_score,
               degraded, degraded_reason, decided_at
        from verdicts
        qualify row_number() over (partition by event_id order by decided_at desc) = 1),
    d as (
        select event_id, image_uri, image_sha256, detections, models, band_low, band_high,
               bool_or(decision = 'escalate') over (partition by event_id) as escalated
        from detections
        qualify row_number() over (partition by event_id order by detected_at desc) = 1),
    l as (
        select image_sha256, roadwork as label_roadwork, origin as label_origin, labelled_by, label_id
        from labels
        qualify row_number() over (partition by image_sha256 order by labelled_at desc, label_id desc) = 1)
    select * from v join d using (event_id) left join l using (image_sha256)
    order by event_id
"""
COLUMNS = {
    "verdicts": (
        "event_id",
        "source_id",
        "captured_at",
        "roadwork",
        "decided_by",
        "tier_path",
        "opinions",
        "detector_score",
        "degraded",
        "degraded_reason",
        "decided_at",
    ),
    "detections": (
        "event_id",
        "image_uri",
        "image_sha256",
        "detections",
        "models",
        "band_low",
        "band_high",
        "decision",
        "detected_at",
    ),
}
LABEL_COLUMNS = ("image_sha256", "roadwork", "origin", "labelled_by", "label_id", "labelled_at")


@dataclass(frozen=True)
class Where:
    """Alternatives of filters: an event matches when every filter of one alternative holds."""

    alternatives: tuple[frozenset[str], ...]

    def matches(self, flags: frozenset[str]) -> bool:
        return any(alt <= flags for alt in self.alternatives)

    def __str__(self) -> str:
        return ",".join("+".join(sorted(alt)) for alt in self.alternatives)


def parse_where(text: str) -> Where:
    """`escalated`, `escalated,degraded` (either), `escalated+label-disagreed` (both).

    Raises:
        ConfigError: an empty filter or one not in FILTERS.
    """
    alternatives = []
    for alt in text.split(","):
        names = frozenset(n.strip() for n in alt.split("+"))
        if unknown := sorted(n for n in names if n not in FILTERS):
            raise ConfigError(f"--where {text!r}: unknown filter {unknown[0]!r}; filters are {list(FILTERS)}")
        alternatives.append(names)
    return Where(tuple(alternatives))


@dataclass(frozen=True)
class Truth:
    """What an image shows and who says so: a label's origin (`human`, `dataset`, `import`) or `verdict`."""

    roadwork: bool
    origin: str
    labelled_by: str | None = None
    label_id: str | None = None


@dataclass(frozen=True)
class Event:
    """One stored event as the export reads it: its newest verdict and detection, its image's label."""

    event_id: str
    source_id: str
    captured_at: datetime
    decided_at: datetime
    image_uri: str | None
    image_sha256: str
    verdict: bool
    decided_by: str
    tier_path: tuple[str, ...]
    degraded: bool
    degraded_reason: str | None
    detector_score: float
    band: tuple[float, float] | None  # None: not stored (the default band's midpoint is the lean)
    detection_escalated: bool
    opinions: tuple[Mapping[str, Any], ...]  # the verdict's, as stored (tier, model, outcome, roadwork...)
    boxes: tuple[Mapping[str, Any], ...]  # the detection's (label, class_id, confidence, x1..y2, model)
    models: tuple[str, ...]  # the detector's, `name@version`
    label: Truth | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Event:
        """An event of a row of `SQL`."""
        label = None
        if row["label_roadwork"] is not None:
            label = Truth(row["label_roadwork"], row["label_origin"], row["labelled_by"], row["label_id"])
        band = None if row["band_low"] is None else (row["band_low"], row["band_high"])
        return cls(
            event_id=row["event_id"],
            source_id=row["source_id"],
            captured_at=row["captured_at"],
            decided_at=row["decided_at"],
            image_uri=row["image_uri"],
            image_sha256=row["image_sha256"],
            verdict=row["roadwork"],
            decided_by=row["decided_by"],
            tier_path=tuple(row["tier_path"]),
            degraded=row["degraded"],
            degraded_reason=row["degraded_reason"],
            detector_score=row["detector_score"],
            band=band,
            detection_escalated=bool(row["escalated"]),
            opinions=tuple(row["opinions"]),
            boxes=tuple(row["detections"]),
            models=tuple(f"{m['name']}@{m['version']}" for m in row["models"]),
            label=label,
        )

    @property
    def lean(self) -> bool:
        """What the detector leaned to: roadwork at or above its band's midpoint."""
        low, high = self.band or (DEFAULT_BAND.low, DEFAULT_BAND.high)
        return self.detector_score >= (low + high) / 2

    @property
    def flags(self) -> frozenset[str]:
        found = {
            "escalated": self.detection_escalated or bool(self.opinions),
            "degraded": self.degraded,
            "tier-disagreed": any(
                o["outcome"] == "answered" and o["roadwork"] is not None and o["roadwork"] != self.lean
                for o in self.opinions
            ),
            "label-disagreed": self.label is not None and self.label.roadwork != self.verdict,
        }
        return frozenset(name for name, holds in found.items() if holds)


@dataclass(frozen=True)
class Example:
    """One image to export: its matching events (newest decided first) and what it truly shows."""

    events: tuple[Event, ...]

    @property
    def newest(self) -> Event:
        return self.events[0]

    @property
    def image_sha256(self) -> str:
        return self.newest.image_sha256

    @property
    def image_uri(self) -> str | None:
        return next((e.image_uri for e in self.events if e.image_uri is not None), None)

    @property
    def truth(self) -> Truth:
        """The image's newest label, else the newest event's verdict."""
        return self.newest.label or Truth(self.newest.verdict, "verdict", self.newest.decided_by)

    @property
    def boxes(self) -> tuple[Mapping[str, Any], ...]:
        """The newest event's detector boxes when the image shows roadwork; none when it is clear (the
        detector's boxes on a clear image are its false positives: the label file says no roadwork)."""
        return self.newest.boxes if self.truth.roadwork else ()


def examples(events: Iterable[Event], where: Where) -> list[Example]:
    """The images of the events `where` matches, by sha256, each with its matching events."""
    by_image: dict[str, list[Event]] = {}
    for event in events:
        if where.matches(event.flags):
            by_image.setdefault(event.image_sha256, []).append(event)
    return [
        Example(tuple(sorted(found, key=lambda e: (e.decided_at, e.event_id), reverse=True)))
        for _, found in sorted(by_image.items())
    ]


def select(
    tables: Tables, where: Where, *, since: datetime | None = None, source: str | None = None
) -> list[Example]:
    """The hard examples among the stored events (of `source`, captured since `since`). Labels are read
    whatever the filters: they hold for the image."""
    con = tables.duckdb(since=since, source=source, columns=COLUMNS)
    con.register("labels", tables.read("labels", columns=LABEL_COLUMNS))
    rows = con.sql(SQL).to_arrow_table().to_pylist()
    return examples((Event.from_row(r) for r in rows), where)


def class_names(chosen: Iterable[Example]) -> list[str]:
    """The dataset's classes: every box label of the examples, ordered by the detector's class id (then
    name), numbered from 0 (boxes of several models share a class when they share a label)."""
    first: dict[str, int] = {}
    for example in chosen:
        for box in example.boxes:
            first[box["label"]] = min(first.get(box["label"], box["class_id"]), box["class_id"])
    return sorted(first, key=lambda name: (first[name], name))


def yolo_lines(boxes: Iterable[Mapping[str, Any]], names: list[str]) -> list[str]:
    """`class cx cy w h` per box (normalised corners to normalised centre and size)."""
    ids = {name: i for i, name in enumerate(names)}
    lines = []
    for b in boxes:
        cx, cy = (b["x1"] + b["x2"]) / 2, (b["y1"] + b["y2"]) / 2
        w, h = b["x2"] - b["x1"], b["y2"] - b["y1"]
        lines.append(f"{ids[b['label']]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def split_of(sha256: str, val_fraction: float) -> str:
    """`val` or `train`, stable per image: the same image lands in the same split on every export."""
    position = int(hashlib.sha256(sha256.encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return "val" if position < val_fraction else "train"
