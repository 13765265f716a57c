"""Which small data files to merge (pure): a plan over the current snapshot's live data files.

Size-tiered: a file is small below half the file-size target; small files fall into tiers by size (each tier
`TIER_FACTOR` times the size of the one below), and a partition's tier is merged once it holds
`min_small_files` files, oldest first, into files of at most the target. Merging four 1-second files makes
one of the next tier, four of those one of the tier after: a row is rewritten about log4(target / first
file size) times in all (5-6 times from 50 kB to 32 MiB), never once per round, and a partition holds at
most `min_small_files - 1` files per tier. A quiet partition (nothing added for `quiet_s`: yesterday's, once
the day turned) has all its small files merged whatever their tier.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

TIER_FACTOR = 4


@dataclass(frozen=True)
class FileInfo:
    """One live data file, as the plan sees it."""

    path: str
    partition: Hashable  # the partition spec id and the partition's values
    size: int
    records: int
    added_ms: int  # when the snapshot that added it was committed (0: expired since, so long ago)
    compacted: bool = False  # written by a compaction, not as the sink wrote it


@dataclass(frozen=True)
class Group:
    """Files of one partition to merge into one file."""

    partition: Hashable
    paths: tuple[str, ...]
    bytes: int
    records: int


def is_small(size: int, target_bytes: int) -> bool:
    return size < target_bytes // 2


def tier(size: int, target_bytes: int) -> int:
    """0 for a small file within a factor TIER_FACTOR of half the target, 1 below that, and so on."""
    return int(math.log(max(1, target_bytes // 2) / max(1, size), TIER_FACTOR))


def _packed(files: list[FileInfo], target_bytes: int) -> list[Group]:
    """`files` (one partition's, in order) cut into groups of at most `target_bytes`, each of 2+ files."""
    groups: list[list[FileInfo]] = [[]]
    for f in files:
        if groups[-1] and sum(g.size for g in groups[-1]) + f.size > target_bytes:
            groups.append([])
        groups[-1].append(f)
    return [
        Group(g[0].partition, tuple(f.path for f in g), sum(f.size for f in g), sum(f.records for f in g))
        for g in groups
        if len(g) >= 2
    ]


def plan(
    files: Iterable[FileInfo], target_bytes: int, min_small_files: int, now_ms: int, quiet_s: float
) -> list[Group]:
    """The groups to merge, oldest partition first: per partition, each tier holding `min_small_files` or
    more small files; in a partition quiet for `quiet_s`, all its small files (two or more)."""
    by_partition: dict[Hashable, list[FileInfo]] = defaultdict(list)
    newest: dict[Hashable, int] = {}
    for f in files:
        newest[f.partition] = max(newest.get(f.partition, 0), f.added_ms)
        if is_small(f.size, target_bytes):
            by_partition[f.partition].append(f)
    out: list[Group] = []
    for partition, small in sorted(by_partition.items(), key=lambda kv: min(f.added_ms for f in kv[1])):
        small.sort(key=lambda f: (f.added_ms, f.path))
        if now_ms - newest[partition] >= quiet_s * 1000:
            out += _packed(small, target_bytes)
            continue
        tiers: dict[int, list[FileInfo]] = defaultdict(list)
        for f in small:
            tiers[tier(f.size, target_bytes)].append(f)
        for _, members in sorted(tiers.items(), reverse=True):  # the smallest files first
            if len(members) >= min_small_files:
                out += _packed(members, target_bytes)
    return out


@dataclass(frozen=True)
class Layout:
    """What the files of a table look like, for metrics."""

    files: int
    partitions: int
    max_files_per_partition: int
    bytes: int
    records: int
    compaction_lag_s: float  # age of the oldest small file as the sink wrote it (none: 0)

    @property
    def bytes_per_file(self) -> float:
        return self.bytes / self.files if self.files else 0.0


def layout(files: Iterable[FileInfo], target_bytes: int, now_ms: int) -> Layout:
    per_partition: dict[Hashable, int] = defaultdict(int)
    size = records = 0
    oldest: int | None = None
    for f in files:
        per_partition[f.partition] += 1
        size += f.size
        records += f.records
        if not f.compacted and is_small(f.size, target_bytes):
            oldest = f.added_ms if oldest is None else min(oldest, f.added_ms)
    lag = 0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000)
    return Layout(
        sum(per_partition.values()),
        len(per_partition),
        max(per_partition.values(), default=0),
        size,
        records,
        lag,
    )
