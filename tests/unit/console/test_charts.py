"""The server-drawn charts: a time axis whose step fits the data's span, every count drawn, text escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apps.console.charts import bars, bucket, over_time, pareto, sparkline

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_the_step_fits_the_span() -> None:
    assert bucket([T0, T0 + timedelta(seconds=30)]) == (timedelta(seconds=10), "%H:%M:%S")
    assert bucket([T0, T0 + timedelta(minutes=20)])[0] == timedelta(minutes=1)
    assert bucket([T0, T0 + timedelta(hours=30)])[0] == timedelta(hours=1)
    assert bucket([T0, T0 + timedelta(days=3)])[0] == timedelta(hours=6)
    assert bucket([T0, T0 + timedelta(days=365)])[0] == timedelta(days=1)


def test_over_time_draws_each_bucket_with_its_count_and_labels_the_axis() -> None:
    times = {"roadwork": [T0, T0 + timedelta(seconds=1), T0 + timedelta(minutes=5)], "clear": [T0]}
    svg = over_time(times, "verdicts")
    titles = re.findall(r"<title>(\d+) (\w+)</title>", svg)
    assert sorted(titles) == [("1", "clear"), ("1", "roadwork"), ("2", "roadwork")]
    assert "08:00:00" in svg and "time (UTC)" in svg and "per 10 s" in svg
    assert over_time({"a": []}, "x") == '<p class="empty">no data yet</p>'


def test_one_bucket_still_shows_its_columns() -> None:
    svg = over_time({"roadwork": [T0] * 5, "clear": [T0] * 4}, "verdicts")
    assert sorted(re.findall(r"<title>(\d+) ", svg)) == ["4", "5"]


def test_labels_are_escaped() -> None:
    assert "<b>" not in bars({"<b>x</b>": 3}, "calls") and "&lt;b&gt;" in bars({"<b>x</b>": 3}, "calls")
    assert "<b>" not in over_time({"<b>": [T0]}, "<i>")


def test_sparkline_marks_the_band() -> None:
    assert sparkline([]) == ""
    assert sparkline([0.1, 0.9], 0.2, 0.6).count('class="edge"') == 2


def test_the_pareto_chart_draws_every_candidate_and_joins_the_front() -> None:
    points = [(0.0, 0.2, "0.50 to 0.50"), (1.0, 0.6, "<b>"), (2.0, 0.5, "c"), (3.0, 0.9, "d")]
    front = [points[0], points[1], points[3]]
    svg = pareto(points, front)
    assert svg.count('class="candidate"') == 4 and svg.count('<circle class="front"') == 3
    assert len(re.search(r'<polyline class="front" points="([^"]*)"', svg).group(1).split()) == 3  # type: ignore[union-attr]
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert "tier cost per event" in svg and "3.00" in svg
    assert "no labelled events" in pareto([], [])
