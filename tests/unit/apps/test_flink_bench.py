"""`bench flink`'s running rate: the middle of a side's run, not its start-up burst or its tail."""

import pytest

from apps.bench.flink import steady_rate


def test_the_running_rate_leaves_out_a_read_ahead_burst_and_the_tail() -> None:
    # 20,000 events written at once at t=0 (read ahead while the first windows filled), then 1,000 events
    # every 100 ms for 8 s (10,000/s), then a last output 5 s later
    progress = [(0, 20_000)] + [(100 * i, 1_000) for i in range(1, 81)] + [(13_000, 1_000)]
    total = sum(g for _, g in progress)
    assert total / 13 < 8_000  # the whole span: neither the burst's rate nor the running one
    assert steady_rate(progress) == pytest.approx(10_000, rel=0.02)


def test_outputs_read_out_of_time_order_are_sorted_first() -> None:
    progress = [(100 * i, 10) for i in range(100)]
    assert steady_rate(progress[::-1]) == pytest.approx(steady_rate(progress))
    assert steady_rate(progress) == pytest.approx(100, rel=0.05)


@pytest.mark.parametrize("progress", [[], [(0, 0)], [(5, 100)], [(5, 50), (5, 50)]])
def test_no_running_rate_without_two_outputs_apart_in_time(progress: list[tuple[int, int]]) -> None:
    assert steady_rate(progress) is None
