"""The compaction plan (pure): which small files merge, in which groups, and the layout metrics."""

from __future__ import annotations

from roadwatch.iceberg.compaction import FileInfo, Group, layout, plan, tier

MIB = 2**20
TARGET = 64 * MIB
NOW = 1_000_000_000


def files(
    n: int, size: int, partition: str = "d1", start_ms: int = NOW - 60_000, **kw: bool
) -> list[FileInfo]:
    return [FileInfo(f"{partition}/{size}/{i}", partition, size, 100, start_ms + i, **kw) for i in range(n)]


def paths(groups: list[Group]) -> list[list[str]]:
    return [list(g.paths) for g in groups]


def test_tiers_grow_by_four_below_half_the_target() -> None:
    assert tier(TARGET // 2 - 1, TARGET) == 0
    assert tier(TARGET // 8, TARGET) == 1
    assert tier(50_000, TARGET) == 4
    assert tier(4 * 50_000, TARGET) == 3  # four merged make one of the next tier


def test_a_tier_merges_once_it_holds_min_small_files() -> None:
    assert plan(files(3, 50_000), TARGET, 4, NOW, quiet_s=3600) == []
    (group,) = plan(files(4, 50_000), TARGET, 4, NOW, quiet_s=3600)
    assert group.paths == tuple(f"d1/50000/{i}" for i in range(4))
    assert (group.bytes, group.records, group.partition) == (200_000, 400, "d1")


def test_tiers_merge_apart_and_big_files_stay() -> None:
    tiny, mid, big = files(5, 50_000), files(3, 4 * 50_000), files(6, 40 * MIB)
    groups = plan(tiny + mid + big, TARGET, 4, NOW, quiet_s=3600)
    assert paths(groups) == [[f.path for f in tiny]]  # the mid tier holds 3; big files are not small


def test_groups_stay_within_the_target_and_are_never_one_file() -> None:
    many = files(9, 7 * MIB)  # tier 1
    groups = plan(many, TARGET, 4, NOW, quiet_s=3600)
    assert [len(g.paths) for g in groups] == [9]  # 63 MiB
    ten = plan(files(10, 7 * MIB), TARGET, 4, NOW, quiet_s=3600)
    assert [len(g.paths) for g in ten] == [9]  # the tenth would pass the target, and alone is no merge
    alone = plan(files(4, 30 * MIB), TARGET, 4, NOW, quiet_s=3600)
    assert [len(g.paths) for g in alone] == [2, 2]


def test_oldest_first_within_a_tier() -> None:
    shuffled = list(reversed(files(4, 50_000)))
    (group,) = plan(shuffled, TARGET, 4, NOW, quiet_s=3600)
    assert group.paths == tuple(f"d1/50000/{i}" for i in range(4))


def test_partitions_apart_and_a_quiet_one_merges_all_its_small_files() -> None:
    yesterday = files(2, 50_000, "d0", NOW - 7200_000) + files(1, 8 * MIB, "d0", NOW - 7100_000)
    today = files(2, 50_000, "d1")
    groups = plan(yesterday + today, TARGET, 4, NOW, quiet_s=3600)
    assert paths(groups) == [[f.path for f in yesterday]]  # whatever their tier; today's 2 wait


def test_layout_counts_files_partitions_and_the_lag_of_sink_files() -> None:
    sink_files = files(3, 50_000, "d1", NOW - 10_000)
    merged = files(1, 200_000, "d1", NOW - 90_000, compacted=True)
    big = files(2, 40 * MIB, "d0", NOW - 500_000)
    out = layout(sink_files + merged + big, TARGET, NOW)
    assert (out.files, out.partitions, out.max_files_per_partition) == (6, 2, 4)
    assert out.records == 600
    assert out.bytes_per_file == (150_000 + 200_000 + 80 * MIB) / 6
    assert out.compaction_lag_s == 10.0  # the merged file and big files are not waiting
    assert layout([], TARGET, NOW).compaction_lag_s == 0.0


def test_files_whose_snapshots_expired_count_as_old_so_their_partition_can_be_quiet() -> None:
    settled = [FileInfo(f"d0/{i}", "d0", 50_000 * 4**i, 100, 0, compacted=True) for i in range(3)]
    assert paths(plan(settled, TARGET, 4, NOW, quiet_s=60)) == [[f.path for f in settled]]
