"""Two sink processes given the same instance id (a copy-pasted deployment): the one the broker fences ends
(its readiness goes with it) instead of idling on with `/ready` 200, and verdicts keep landing from the
other, and again from a restarted one once the other is stopped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from roadwatch.settings import KafkaSettings
from tests.helpers import send_verdicts, wait_for
from tests.integration.test_sink import counts, sink_env
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration


def test_the_fenced_twin_exits_and_verdicts_keep_landing(
    kafka: KafkaSettings, topic_factory, producer_factory, tmp_path: Path
) -> None:
    topics = {n: topic_factory(n) for n in ("verdicts", "detections", "source_state")}
    warehouse = tmp_path / "warehouse"
    env = sink_env(kafka, topics, warehouse, "^$") | {"ROADWATCH_SINK_INSTANCE_ID": "twin"}
    producer = producer_factory()

    def landed() -> int:
        return sum(counts(warehouse).get("verdicts", {}).values())

    first = ServiceProcess("services.sink", env, tmp_path / "first.log").start()
    second: ServiceProcess | None = None
    try:
        send_verdicts(producer, topics["verdicts"], range(0, 20), sources=3)
        wait_for(lambda: landed() == 20, 90, "the first sink's verdicts")
        second = ServiceProcess("services.sink", env, tmp_path / "second.log").start()
        wait_for(lambda: not first.alive(), 90, "the fenced sink to exit")
        assert first.returncode not in (0, None), "a fenced sink must not look like a clean stop"
        assert "fenced" in (tmp_path / "first.log").read_text().lower()
        send_verdicts(producer, topics["verdicts"], range(20, 40), sources=3)
        wait_for(lambda: landed() == 40, 90, "verdicts from the twin that stayed")
        assert second.alive()
        second.stop()
        restarted = ServiceProcess("services.sink", env, tmp_path / "restarted.log").start()
        first = restarted  # stopped in finally
        send_verdicts(producer, topics["verdicts"], range(40, 60), sources=3)
        wait_for(lambda: landed() == 60, 90, "verdicts after the restart")
        time.sleep(2)  # nothing lands twice in the meantime either
        assert counts(warehouse)["verdicts"].most_common(1)[0][1] == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()
