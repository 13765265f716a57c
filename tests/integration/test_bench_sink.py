"""`roadwatch bench sink` end to end on a small load (real broker, real Iceberg): every row is committed, and
the numbers it prints are the ones it defines, within the rounding it applies."""

import pyarrow as pa
import pytest

from apps.bench import sink
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.settings import KafkaSettings

pytestmark = pytest.mark.integration

KEYS = {
    "bench",
    "catalog",
    "rows",
    "rounds",
    "flush_rows",
    "rows_per_s",
    "bare_rows_per_s",
    "ratio",
    "sink_cpu_s",
    "bare_cpu_s",
    "ratio_ceiling",
    "commits",
    "rows_per_commit",
    "p99_commit_ms",
    "files_per_100k_rows",
}


def test_the_sink_bench_commits_every_row_and_reports_both_sides(
    kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed_rows: list[int] = []  # per round: rows in the batches the sink committed (replayed bare)
    bare_round = sink._bare_round

    def counting(batches: list[pa.Table], catalog: CatalogSettings) -> sink.Timing:
        committed_rows.append(sum(b.num_rows for b in batches))
        return bare_round(batches, catalog)

    monkeypatch.setattr(sink, "_bare_round", counting)
    out = sink.run(kafka, rows=3000, flush_rows=1000, rounds=1)

    assert set(out) == KEYS
    assert (out["bench"], out["rows"], out["rounds"], out["flush_rows"]) == ("sink", 3000, 1, 1000)
    assert out["catalog"] == "sql"  # a fresh SQLite catalog per side and round (REST: a fresh namespace)
    assert committed_rows == [3000]  # every row, once
    assert out["commits"] >= 1 and out["rows_per_commit"] == round(3000 / out["commits"])
    assert out["rows_per_s"] > 0 and out["bare_rows_per_s"] > 0
    # ratio = round(sink rows/s / bare rows/s, 3), and each printed rate is its true value rounded to an
    # integer: the true quotient lies between these bounds, and the ratio within 0.0005 of it.
    rps, bare = out["rows_per_s"], out["bare_rows_per_s"]
    low, high = (rps - 0.5) / (bare + 0.5), (rps + 0.5) / (bare - 0.5)
    assert out["ratio"] > 0 and low - 0.0005 - 1e-9 <= out["ratio"] <= high + 0.0005 + 1e-9
    assert out["sink_cpu_s"] > 0 and out["bare_cpu_s"] > 0
    assert out["ratio_ceiling"] > 0 and out["p99_commit_ms"] > 0
    assert out["files_per_100k_rows"] >= round(100_000 / 3000, 2)  # at least one data file
