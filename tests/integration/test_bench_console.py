"""`roadwatch bench console` end to end on a small load (real broker, real Iceberg, the console in its own
process): every page answers, every live verdict arrives, and the scratch topics are gone afterwards."""

import pytest

from apps.bench import console
from roadwatch.settings import KafkaSettings
from tests.integration.test_bench_cleanup import bench_names, on_broker

pytestmark = pytest.mark.integration

PAGES = ("source_page", "all_page", "funnel", "decisions_html")
KEYS = {
    "bench",
    "rows",
    "cameras",
    "days",
    "batch_rows",
    "commits",
    "verdict_files",
    "fill_s",
    "requests",
    *(f"{p}_{k}" for p in PAGES for k in ("p50_ms", "p99_ms", "max_ms", "bytes")),
    "live_verdicts",
    "live_rate_per_s",
    "live_received",
    "live_p50_ms",
    "live_p99_ms",
    "live_max_ms",
    "console_rss_mb",
    "console_peak_rss_mb",
}


def test_the_console_bench_times_every_page_and_the_live_feed(kafka: KafkaSettings) -> None:
    before = bench_names(on_broker(kafka))
    out = console.run(kafka, rows=2000, batch_rows=500, requests=3, warmup=1, live_verdicts=10)

    assert set(out) == KEYS
    assert (out["bench"], out["rows"], out["commits"], out["requests"]) == ("console", 2000, 4, 3)
    assert out["verdict_files"] >= out["commits"]
    for page in PAGES:
        assert 0 < out[f"{page}_p50_ms"] <= out[f"{page}_p99_ms"] <= out[f"{page}_max_ms"]
        assert out[f"{page}_bytes"] > 0
    assert out["live_received"] == out["live_verdicts"] == 10
    assert out["live_p50_ms"] <= out["live_p99_ms"] <= out["live_max_ms"]
    assert 0 < out["console_rss_mb"] <= out["console_peak_rss_mb"]
    assert bench_names(on_broker(kafka)) - before == set()
