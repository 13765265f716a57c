"""`roadwatch bench pipeline`, its pure parts: when a step counts as sustained, the rate search, a step's
summary and CPU per image, where each service reads and writes, and the /proc reading."""

import os
import re
from pathlib import Path

import pytest

from apps.bench.pipeline_search import Bounds, Search, Step, bracket, max_rate, next_rate
from apps.bench.pipeline_services import Layout, cpu_by_group
from apps.plan import local_services
from roadwatch.kafka.topics import IMAGES

BOUNDS = Bounds(keep_up=0.9, edge_s=1.0, end_lag_s=10.0, lag_s=10.0)


def _steady(rate: float, seconds: float, latency_s: float, growth: float = 0.0) -> Step:
    """Images at `rate` for `seconds`, each visible `latency_s` after its send plus `growth` seconds per
    second of the step (a queue that grows)."""
    sent = [i / rate for i in range(round(rate * seconds))]
    return Step(rate, sent, [t + latency_s + growth * t for t in sent])


def test_a_step_the_pipeline_keeps_up_with_is_sustained() -> None:
    step = _steady(8.0, 30, latency_s=1.5)
    assert step.keep_up == pytest.approx(1.0, abs=0.05)
    assert step.end_lag_s == pytest.approx(1.5)
    assert step.sustained(BOUNDS)


def test_a_growing_queue_is_not_sustained() -> None:
    step = _steady(8.0, 30, latency_s=1.0, growth=0.5)  # half a second more wait per second sent
    assert step.keep_up < 0.9
    assert step.end_lag_s > 10
    assert not step.sustained(BOUNDS)


def test_a_long_tail_after_the_last_send_is_not_sustained_though_the_table_kept_pace() -> None:
    step = _steady(4.0, 30, latency_s=1.0)
    late = Step(step.rate, step.sent_at, [*step.seen_at[:-1], step.sent_at[-1] + 12.0])
    assert late.keep_up >= 0.9
    assert not late.sustained(BOUNDS)


def test_a_second_of_arrivals_short_in_the_window_is_forgiven_more_is_not() -> None:
    sent = [i / 4 for i in range(40)]  # 4 images/s for 10 s; the window: 2.44 s .. 9.75 s
    on_time = Step(4.0, sent, [t + 0.5 for t in sent])
    assert on_time.window() == (30, 30)

    def late(m: int) -> Step:
        """The last `m` images that became visible in the window only after the step's end."""
        seen = [t + 0.5 if i <= 37 - m else sent[-1] + 1 for i, t in enumerate(sent)]
        return Step(4.0, sent, seen)

    assert late(6).window() == (30, 24) and late(6).kept_pace(BOUNDS)  # 24 + 4 >= 0.9 * 30
    assert late(8).window() == (30, 22) and not late(8).kept_pace(BOUNDS)


def test_a_step_cut_short_is_not_sustained() -> None:
    step = _steady(8.0, 30, latency_s=1.0)
    assert not Step(step.rate, step.sent_at, step.seen_at, cut=True).sustained(BOUNDS)


def test_outstanding_images_allowed_scale_with_the_rate_and_have_a_floor() -> None:
    assert BOUNDS.max_outstanding(8.0) == 80
    assert BOUNDS.max_outstanding(0.5) == 20


def test_summary_percentiles_and_cpu_per_image() -> None:
    sent = [i / 10 for i in range(1000)]
    seen = [t + (i + 1) / 1000 for i, t in enumerate(sent)]  # latencies 1 .. 1000 ms
    step = Step(10.0, sent, seen, cpu_s={"detector": 80.0, "sink": 25.0})
    s = step.summary(BOUNDS)
    assert (s["sent"], s["p50_ms"], s["p99_ms"], s["sustained"], s["cut"]) == (1000, 500, 990, True, False)
    assert step.cpu_ms_per_image() == {"detector": 80.0, "sink": 25.0}


def _search(capacity: float, search: Search) -> list[tuple[float, bool]]:
    tried: list[tuple[float, bool]] = []
    while (rate := next_rate(tried, search)) is not None:
        tried.append((rate, rate <= capacity))
    return tried


def test_the_search_grows_then_bisects_to_the_resolution() -> None:
    search = Search(start=4.0, factor=2.0, resolution=0.15, max_steps=10)
    tried = _search(11.0, search)
    assert [r for r, _ in tried][:3] == [4.0, 8.0, 16.0]
    held, failed = bracket(tried)
    assert held is not None and failed is not None
    assert held <= 11.0 < failed and failed / held - 1 <= 0.15
    assert max_rate(tried) == held


def test_the_search_stops_after_max_steps() -> None:
    tried = _search(11.0, Search(start=4.0, max_steps=4))
    assert [r for r, _ in tried] == [4.0, 8.0, 16.0, 12.0]
    assert max_rate(tried) == 8.0


def test_the_search_goes_down_when_the_start_fails_and_gives_up_below_the_floor() -> None:
    tried = _search(1.2, Search(start=4.0, floor=0.5, max_steps=10))
    assert [r for r, _ in tried][:3] == [4.0, 2.0, 1.0]
    assert 1.0 <= max_rate(tried) <= 1.2
    nothing = _search(0.1, Search(start=4.0, floor=0.5, max_steps=10))
    assert [r for r, _ in nothing] == [4.0, 2.0, 1.0, 0.5]
    assert max_rate(nothing) == 0.0


def test_a_rate_that_held_above_one_that_failed_does_not_count() -> None:
    tried = [(4.0, True), (8.0, False), (6.0, True), (10.0, True)]
    assert bracket(tried) == (6.0, 8.0)
    assert max_rate(tried) == 6.0


def _layout(tmp_path: Path) -> Layout:
    return Layout("bench.pipeline.abc.", tmp_path, lambda name: f"bench-{name}-abc")


def test_every_service_of_run_all_reads_and_writes_the_bench_topics_and_groups(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    specs = local_services(tmp_path / "models", tmp_path, tmp_path / "flink-python")
    for spec in specs:
        env = layout.env(spec.name, 12345)
        assert "12345" in env.values(), spec.name
        for key, value in env.items():
            if key.endswith("_TOPIC"):
                assert value.startswith("bench.pipeline.abc."), key
            if key.endswith("_GROUP_ID"):
                assert value == f"bench-{spec.name}-abc", key
    detector = layout.env("detector", 1)
    assert detector["ROADWATCH_DETECTOR_INPUT_TOPIC"] == "bench.pipeline.abc." + IMAGES
    assert layout.env("vlm-power", 1)["ROADWATCH_VLM_POWER_TOPIC_PREFIX"] == "bench.pipeline.abc."
    assert layout.env("console", 7)["ROADWATCH_CONSOLE_PORT"] == "7"
    dlq = re.compile(layout.env("sink", 1)["ROADWATCH_SINK_DLQ_PATTERN"])
    assert dlq.match("bench.pipeline.abc.images.v1.dlq") and not dlq.match("images.v1.dlq")
    flink = layout.env("flink", 1)
    assert flink["ROADWATCH_FLINK_CHECKPOINT_DIR"] == str(tmp_path / "flink-checkpoints")


def test_a_service_without_a_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no layout"):
        _layout(tmp_path).env("detector-shadow", 1)


def test_cpu_by_group_counts_this_process_group() -> None:
    busy = sum(i * i for i in range(2_000_000))  # some CPU of our own
    assert busy > 0
    assert cpu_by_group()[os.getpgrp()] > 0
