"""`roadwatch bench pipeline` end to end, briefly: every service of `run all` (the Flink job among them) on
the test broker, a warm-up, one search step at a low rate, then the 50 % and 90 % steps; the report has the
keys the issue names, every step's images all landed, and the bench's topics are gone afterwards."""

import pytest

from apps.bench import pipeline
from apps.bench.pipeline_search import Search
from apps.plan import FLINK_PYTHON
from roadwatch.kafka.admin import admin_client
from roadwatch.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.flink]

SERVICES = {"detector", "vlm-fast", "vlm-power", "vlm-precision", "sink", "maintainer", "console", "flink"}


def _bench_topics(kafka: KafkaSettings) -> set[str]:
    listed = admin_client(kafka.client_config()).list_topics(timeout=10).topics
    return {t for t in listed if t.startswith("bench.pipeline.")}


@pytest.mark.skipif(not FLINK_PYTHON.exists(), reason="needs .venv-flink (scripts/setup.sh)")
def test_a_short_search_and_the_50_and_90_percent_steps(kafka: KafkaSettings) -> None:
    before = _bench_topics(kafka)
    options = pipeline.Options(step_s=10.0, warmup_s=4.0, search=Search(start=2.0, max_steps=1))

    out = pipeline.run(kafka, options)

    assert out["max_images_per_s"] == 2.0, out["steps"]
    assert (out["rate_at_50"], out["rate_at_90"]) == (1.0, 1.8)
    for share in (50, 90):
        assert 0 < out[f"p50_ms_at_{share}"] <= out[f"p99_ms_at_{share}"], share
    assert [s["step"] for s in out["steps"]] == ["warm-up", "search 1", "at 50 %", "at 90 %"]
    assert [s["sent"] for s in out["steps"]] == [8, 20, 10, 18]  # each step waited for all its images
    assert set(out["cpu_ms_per_image"]) == SERVICES
    assert out["cpu_ms_per_image"]["detector"] > 0
    assert sum(out["decided_by"].values()) == pytest.approx(1.0, abs=0.01)
    assert _bench_topics(kafka) <= before
