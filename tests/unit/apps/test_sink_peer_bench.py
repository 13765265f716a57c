"""`roadwatch bench sink --peer kafka-connect`, its pure parts: the report's figures and keys, freshness
percentiles, the records it produces, the child processes' settings and the /proc readings."""

import json
import os
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from apps.bench.sink_catalog import file_catalog_properties
from apps.bench.sink_peer import Rows
from apps.bench.sink_report import SideRound, report, side_figures
from apps.bench.sink_sides import catalog_env, cpu_seconds, peak_rss_mb, sink_env
from roadwatch.iceberg.settings import CatalogSettings
from schemas import Verdict

STEADY_KEYS = {
    "rows_per_s",
    "peer_rows_per_s",
    "ratio",
    "cpu_ratio",
    "freshness_p50_s",
    "freshness_p99_s",
    "files_per_100k",
    "snapshots",
    "peer_freshness_p50_s",
    "peer_freshness_p99_s",
    "peer_files_per_100k",
    "peer_snapshots",
}


def _round(rows: int, wall: float, cpu: float, **kw: object) -> SideRound:
    defaults: dict[str, object] = {"peak_rss_mb": 100.0, "files": 10, "snapshots": 5}
    return SideRound(rows, wall, cpu, **{**defaults, **kw})  # type: ignore[arg-type]


def test_backlog_report_takes_medians_and_the_two_ratios() -> None:
    ours = [_round(1_000_000, w, 12.0) for w in (10.0, 11.0, 50.0)]  # a slow round does not move the median
    peer = [_round(1_000_000, w, 36.0, files=40, snapshots=30) for w in (40.0, 33.0, 30.0)]
    out = report("backlog", ours, peer, {"bench": "sink"})
    assert out["rows_per_s"] == round(1_000_000 / 11.0)
    assert out["peer_rows_per_s"] == round(1_000_000 / 33.0)
    assert out["ratio"] == round(out["rows_per_s"] / out["peer_rows_per_s"], 3)
    assert (out["cpu_s_per_100k"], out["peer_cpu_s_per_100k"]) == (1.2, 3.6)
    assert out["cpu_ratio"] == 3.0
    assert (out["files_per_100k"], out["peer_files_per_100k"]) == (1.0, 4.0)
    assert (out["snapshots_per_100k"], out["peer_snapshots_per_100k"]) == (0.5, 3.0)
    assert out["rounds"] == 3 and out["mode"] == "backlog" and out["bench"] == "sink"
    assert "freshness_p99_s" not in out


def test_steady_report_has_freshness_files_and_snapshots_for_both_sides() -> None:
    fresh = tuple(0.5 + i / 1000 for i in range(1000))  # 0.5 .. 1.499 s
    ours = [_round(600_000, 301.0, 60.0, freshness_s=fresh, files=12, snapshots=40)]
    peer = [_round(600_000, 330.0, 200.0, freshness_s=(5.0,) * 199 + (30.0,), files=300, snapshots=300)]
    out = report("steady", ours, peer, {})
    assert set(out) >= STEADY_KEYS
    assert out["freshness_p50_s"] == 0.999 and out["freshness_p99_s"] == 1.489
    assert out["peer_freshness_p50_s"] == 5.0 and out["peer_freshness_p99_s"] == 5.0
    assert out["files_per_100k"] == 2.0 and out["peer_files_per_100k"] == 50.0
    assert (out["snapshots"], out["peer_snapshots"]) == (40, 300)
    assert out["not_visible"] == 0
    json.dumps(out)  # one JSON object


def test_no_rows_reports_zeros_rather_than_dividing_by_zero() -> None:
    figures = side_figures([_round(0, 0.0, 0.0)], steady=True)
    assert figures["rows_per_s"] == 0 and figures["cpu_s_per_100k"] == 0 and figures["freshness_p99_s"] == 0
    assert report("backlog", [_round(0, 0.0, 0.0)], [_round(0, 0.0, 0.0)], {})["ratio"] == 0.0


def test_the_progress_line_says_rate_cpu_and_freshness() -> None:
    line = _round(100_000, 2.0, 1.5, freshness_s=(1.0, 2.0), not_visible=3).line()
    assert "50.0 k rows/s" in line and "1.50 per 100k" in line and "p99 2.00 s" in line
    assert "3 rows never visible" in line


def test_rows_are_valid_verdicts_keyed_by_source() -> None:
    at = datetime(2026, 12, 2, 19, 0, 0, 123456, tzinfo=UTC)
    key, value = Rows().record(7, "e-7", at)
    verdict = Verdict.model_validate_json(value)
    assert key == b"cam-7" and verdict.source_id == "cam-7" and verdict.event_id == "e-7"
    assert verdict.captured_at == at == verdict.decided_at
    assert json.loads(value)["captured_at"].endswith("Z")


def test_the_sink_reads_only_the_bench_topic() -> None:
    env = sink_env("bench.t.1", "g", 500)
    assert env["ROADWATCH_SINK_VERDICTS_TOPIC"] == "bench.t.1"
    others = [v for k, v in env.items() if k.endswith("_TOPIC") and "VERDICTS" not in k]
    assert len(others) == 5 and all(t.startswith("bench.t.1.none") for t in others)
    assert not re.match(env["ROADWATCH_SINK_DLQ_PATTERN"], "verdicts.v1.dlq")
    assert env["ROADWATCH_SINK_FRESHNESS_MS"] == "500" and env["ROADWATCH_SINK_STATIC_MEMBER"] == "false"
    assert "ROADWATCH_SINK_FRESHNESS_MS" not in sink_env("t", "g", None)


def test_catalog_env_round_trips_into_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = CatalogSettings(
        type="rest",
        uri="http://127.0.0.1:1",
        warehouse="s3://w/",
        namespace="bench_x",
        s3_endpoint="http://127.0.0.1:2",
        s3_access_key_id="k",
        s3_secret_access_key=SecretStr("s"),
    )
    for key, value in catalog_env(settings).items():
        monkeypatch.setenv(key, value)
    assert CatalogSettings() == settings


def test_proc_readings_of_this_process() -> None:
    sum(i * i for i in range(200_000))  # some CPU
    assert cpu_seconds(os.getpid()) > 0
    assert peak_rss_mb(os.getpid()) > 10


def test_the_bench_catalog_keeps_its_database_and_warehouse_in_its_home(tmp_path: Path) -> None:
    props = dict(ln.split("=", 1) for ln in file_catalog_properties(tmp_path, 18181).splitlines() if ln)
    assert props["rest.host"] == "127.0.0.1" and props["rest.port"] == "18181"
    assert props["uri"] == f"jdbc:sqlite:file:{tmp_path / 'catalog.db'}"
    assert props["warehouse"] == (tmp_path / "warehouse").as_uri()


def test_warmup_rounds_run_first_and_stay_out_of_the_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    from apps.bench import sink_peer

    walls = iter([200.0, 100.0, 10.0, 40.0, 30.0, 12.0])  # warm-up peer, ours; round 1 ours, peer; round 2
    calls: list[tuple[str, int]] = []

    def fake_round(self: object, name: str, topic: str, r: int) -> SideRound:
        calls.append((name, r))
        return _round(1_000_000, next(walls), 12.0)

    @contextmanager
    def fake_setup(kafka: object, catalog: object):  # type: ignore[no-untyped-def]
        class S:
            def topic(self, name: str, partitions: int = 2) -> str:
                return name

        yield S(), CatalogSettings(), Path("/nonexistent")

    monkeypatch.setattr(sink_peer, "_setup", fake_setup)
    monkeypatch.setattr(sink_peer, "produce_backlog", lambda *a: None)
    monkeypatch.setattr(sink_peer.Bench, "round", fake_round)
    monkeypatch.setattr(sink_peer.Bench, "__init__", lambda self, *a: setattr(self, "maintain", False))

    out = sink_peer.run(
        None,  # type: ignore[arg-type]
        sink_peer.Options(mode="backlog", rows=1_000_000, rounds=2, warmup_rounds=1),
    )

    assert calls == [("kafka-connect", 0), ("roadwatch", 0), ("roadwatch", 1), ("kafka-connect", 1),
                     ("kafka-connect", 2), ("roadwatch", 2)]  # fmt: skip
    assert out["warmup_rows_per_s"] == {"roadwatch": [10_000], "kafka-connect": [5_000]}
    assert out["rows_per_s"] == round(statistics.median([1e6 / 10.0, 1e6 / 12.0]))
    assert out["rounds"] == 2
