"""Which rows of a batch a table already holds, by `event_id`, within a window (pure; the clock is given).
(Pure but for reading Arrow columns.)

Every table is idempotent on `event_id` (`labels` on `label_id`: one event is labelled again and again): a
record produced twice (a client's retry, a replayed file) lands once if its duplicate arrives within
`window_s` of the first. The window is kept by arrival time; ids are
added only once their rows are committed, so a flush that is fenced and re-read is never mistaken for a
duplicate of itself. State: one dict entry and one deque entry per id in the window, about 150 bytes per id
(36-character uuids): 1M events/hour is about 150 MB per table. The common batch, with no duplicate,
costs a set and a dict update, not a Python step per row.
"""

from __future__ import annotations

from collections import deque

import pyarrow as pa

DEFAULT_WINDOW_S = 3600.0
DEAD_LETTER_IDENTITY = ("source_topic", "partition", "offset")
# a shadow's row is one per event and variant: never the same row as another variant's of that event
SHADOW_IDENTITY = ("event_id", "variant")
_IDENTITY = {
    "dead_letters": DEAD_LETTER_IDENTITY,
    "labels": ("label_id",),
    "shadow_detections": SHADOW_IDENTITY,
    "shadow_opinions": SHADOW_IDENTITY,
}


def identity_columns(table: str) -> tuple[str, ...]:
    """The columns whose values make a row of `table` the same row (`identities`)."""
    return _IDENTITY.get(table, ("event_id",))


def identities(table: str, rows: pa.Table) -> list[str]:
    """What makes a row the same row: its `event_id`; for a label, its `label_id` (the same event is
    labelled again); for a dead letter, the record it describes (a record re-read after a restart makes the
    same dead letter; two bad records may share an event_id); for a shadow's row, its event_id and variant
    (variants have no `:`, so the joined key is unambiguous)."""
    columns = identity_columns(table)
    if len(columns) == 1:
        ids: list[str] = rows.column(columns[0]).to_pylist()
        return ids
    cols = [rows.column(c).to_pylist() for c in columns]
    return [":".join(map(str, values)) for values in zip(*cols, strict=True)]


class RecentIds:
    """The event_ids committed in the last `window_s` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._seen: dict[str, float] = {}
        self._batches: deque[tuple[float, list[str]]] = deque()  # in commit order, for expiry

    def __len__(self) -> int:
        return len(self._seen)

    def new(self, ids: list[str], now: float) -> list[bool]:
        """For each id: whether it is neither in the window nor earlier in `ids` (first occurrence wins)."""
        self._expire(now)
        distinct = set(ids)
        if len(distinct) == len(ids) and self._seen.keys().isdisjoint(distinct):
            return [True] * len(ids)  # the common case, without a Python step per id
        batch: set[str] = set()
        keep = []
        for event_id in ids:
            keep.append(event_id not in self._seen and event_id not in batch)
            batch.add(event_id)
        return keep

    def add(self, ids: list[str], at: float) -> None:
        """Remember `ids` as committed at `at`."""
        self._seen.update(dict.fromkeys(ids, at))
        self._batches.append((at, ids))

    def _expire(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._batches and self._batches[0][0] < cutoff:
            at, ids = self._batches.popleft()
            for event_id in ids:
                if self._seen.get(event_id) == at:
                    del self._seen[event_id]
