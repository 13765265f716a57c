"""The stored events labels refer to, and the labels already written, read from the tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

import pyarrow as pa
import pyarrow.compute as pc

from roadwatch.analytics.tables import Tables
from roadwatch.errors import InvalidInputError
from roadwatch.labels.core import StoredImage

EVENT_COLUMNS = ("event_id", "source_id", "captured_at", "image_sha256")


def stored_images(tables: Tables, sha256s: Collection[str]) -> dict[str, list[StoredImage]]:
    """The stored events showing each of `sha256s`, by sha256 (an image produced twice has two events)."""
    rows = tables.read("detections", columns=EVENT_COLUMNS)
    wanted = rows.filter(
        pc.is_in(rows.column("image_sha256"), value_set=pa.array(list(sha256s), pa.string()))
    )
    out: dict[str, list[StoredImage]] = defaultdict(list)
    seen: set[str] = set()
    for r in wanted.sort_by([("captured_at", "ascending"), ("event_id", "ascending")]).to_pylist():
        if r["event_id"] not in seen:  # a detection written twice is one event
            seen.add(r["event_id"])
            out[r["image_sha256"]].append(StoredImage(**r))
    return dict(out)


def stored_event(tables: Tables, event_id: str) -> StoredImage:
    """One stored event.

    Raises:
        InvalidInputError: `unknown_event`, the tables hold no detection of `event_id`.
    """
    rows = tables.read("detections", event_id=event_id, columns=EVENT_COLUMNS).to_pylist()
    if not rows:
        raise InvalidInputError("unknown_event", f"the tables hold no event {event_id!r}")
    return StoredImage(**rows[0])


def image_labels(tables: Tables, sha256: str) -> list[dict[str, object]]:
    """Every label of one image, newest first (the first is the one that holds)."""
    rows = tables.read("labels")
    mine = rows.filter(pc.equal(rows.column("image_sha256"), sha256))
    ordered = mine.sort_by([("labelled_at", "descending"), ("label_id", "descending")])
    labels: list[dict[str, object]] = ordered.to_pylist()
    return labels
