"""Kafka offsets kept in Iceberg snapshot summaries: the table is the source of truth for where to resume.

Each sink commit writes, under `roadwatch.offsets`, the next offset to read for every partition that has
ever fed the table (`{"topic:partition": offset}`), merged over the previous value. Not every snapshot an
operation makes carries custom properties (maintenance, for one), so reading walks back through parents.
"""

from __future__ import annotations

import json

import pyarrow as pa
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

OFFSETS_KEY = "roadwatch.offsets"
Offsets = dict[tuple[str, int], int]


def encode(offsets: Offsets) -> str:
    return json.dumps({f"{t}:{p}": o for (t, p), o in sorted(offsets.items())}, separators=(",", ":"))


def decode(value: str) -> Offsets:
    out: Offsets = {}
    for key, offset in json.loads(value).items():
        topic, _, partition = key.rpartition(":")
        out[(topic, int(partition))] = int(offset)
    return out


def offsets_chain(table: Table) -> tuple[list[Snapshot], Offsets]:
    """The snapshots from the current one back to (and including) the newest that carries offsets, and
    those offsets ({} and the whole history when none does: the sink never wrote the table)."""
    chain: list[Snapshot] = []
    snapshot = table.current_snapshot()
    while snapshot is not None:
        chain.append(snapshot)
        summary = snapshot.summary
        if summary is not None and OFFSETS_KEY in summary.additional_properties:
            return chain, decode(summary.additional_properties[OFFSETS_KEY])
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return chain, {}


def committed(table: Table) -> Offsets:
    """Offsets of the newest snapshot on `main` that carries them ({} if the sink never wrote the table)."""
    return offsets_chain(table)[1]


def stale(ours: Offsets, theirs: Offsets) -> list[tuple[str, int]]:
    """Partitions where the table is already past the start of our batch: another writer owns them now."""
    return [tp for tp, start in ours.items() if theirs.get(tp, 0) > start]


def span(coordinates: pa.Table) -> tuple[Offsets, Offsets]:
    """First offset and next offset per partition of records given as `kafka_topic`, `kafka_partition`,
    `kafka_offset` columns."""
    g = coordinates.group_by(["kafka_topic", "kafka_partition"], use_threads=False).aggregate(
        [("kafka_offset", "min"), ("kafka_offset", "max")]
    )
    keys = list(zip(g["kafka_topic"].to_pylist(), g["kafka_partition"].to_pylist(), strict=True))
    start = dict(zip(keys, g["kafka_offset_min"].to_pylist(), strict=True))
    end = {tp: last + 1 for tp, last in zip(keys, g["kafka_offset_max"].to_pylist(), strict=True)}
    return start, end
