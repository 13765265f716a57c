"""`roadwatch bench sink` end to end on a small load (real broker, real Iceberg): the numbers it prints are
consistent with each other."""

import pytest

from apps.bench import sink
from roadwatch.settings import KafkaSettings

pytestmark = pytest.mark.integration


def test_the_sink_bench_reports_both_sides_of_one_load(kafka: KafkaSettings) -> None:
    out = sink.run(kafka, rows=3000, flush_rows=1000, rounds=1)
    assert out["rows"] == 3000
    assert out["commits"] >= 1 and out["rows_per_commit"] == round(3000 / out["commits"])
    assert out["rows_per_s"] > 0 and out["bare_rows_per_s"] > 0
    assert out["ratio"] == pytest.approx(out["rows_per_s"] / out["bare_rows_per_s"], rel=0.01)
    assert out["sink_cpu_s"] > 0 and out["bare_cpu_s"] > 0
    assert out["ratio_ceiling"] > 0
