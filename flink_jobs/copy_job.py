"""The baseline `roadwatch bench flink` measures the confidence-state job against: a Kafka → Kafka copy in
Flink SQL on the job's own environment and tables (`confidence_state.tables`: the same three sources,
read_committed from the group's offsets, the same exactly-once sink, parallelism and checkpointing), with
nothing between them. Every input record becomes one record on the state topic, key and value unchanged.

Run: `python -m flink_jobs.copy_job` in .venv-flink, with the job's `ROADWATCH_FLINK_*` settings.
"""

from __future__ import annotations

import logging
from typing import Any

from flink_jobs.confidence_state import serve, tables
from flink_jobs.settings import FlinkSettings
from roadwatch.settings import KafkaSettings
from roadwatch.startup import one_line_errors

log = logging.getLogger(__name__)


def copy_sql(s: FlinkSettings) -> str:
    """Every record of the job's inputs, as it came, onto the state topic."""
    topic = s.state_topic.replace("'", "''")
    return f"INSERT INTO roadwatch_out SELECT '{topic}', source_id, v FROM events_in"


def submit(s: FlinkSettings, kafka: KafkaSettings) -> Any:
    """Build the copy and submit it; returns its job client."""
    _, t_env = tables(s, kafka)
    log.info(
        "submitting the copy job: %s + %s + %s -> %s",
        s.detections_topic,
        s.verdicts_topic,
        s.thresholds_topic,
        s.state_topic,
    )
    return t_env.execute_sql(copy_sql(s)).get_job_client()


@one_line_errors("flink-copy")
def main() -> None:
    serve(submit)


if __name__ == "__main__":
    main()
