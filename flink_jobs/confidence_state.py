"""The PyFlink DataStream job: detections.v1 + verdicts.v1 → keyed by source_id → state machine →
source-state.v1 and thresholds.v1 (compacted), exactly once (checkpoints + Kafka transactions).

Run: `roadwatch run flink` (a local mini-cluster in .venv-flink), or submit this file to a Flink cluster.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from pyflink.common import Configuration, Duration, Row, Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.common.time import Time
from pyflink.datastream import (
    CheckpointingMode,
    KeyedProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaSource,
)
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor
from pyflink.table import StreamTableEnvironment

from flink_jobs.checkpoints import latest_checkpoint, prune
from flink_jobs.connector import connector_jars
from flink_jobs.records import render, to_event
from flink_jobs.settings import FlinkSettings
from flink_jobs.state_machine import BandsOut, Config, step

log = logging.getLogger(__name__)
OUT = Types.ROW_NAMED(["topic", "k", "v"], [Types.STRING(), Types.STRING(), Types.STRING()])


class Confidence(KeyedProcessFunction):  # type: ignore[misc]
    """Holds one source's state (a ValueState with TTL) and calls the pure `step`."""

    def __init__(self, config: Config, state_topic: str, thresholds_topic: str, ttl_days: int) -> None:
        self.config, self.state_topic, self.thresholds_topic, self.ttl_days = (
            config,
            state_topic,
            thresholds_topic,
            ttl_days,
        )
        self.state: Any = None

    def open(self, runtime_context: RuntimeContext) -> None:
        # the State object itself, pickled only when PyFlink's state cache writes it back (once per bundle)
        desc = ValueStateDescriptor("source_state_v2", Types.PICKLED_BYTE_ARRAY())
        # PyFlink's TTL builder still takes the old `Time` (it calls to_milliseconds on it). The default
        # visibility (never return expired) turns PyFlink's state cache off: every read and write becomes a
        # round trip to the JVM (~4x slower). A silent source whose state expired but was not cleaned up
        # yet may see it once more: harmless for an EWMA of its own history.
        ttl = (
            StateTtlConfig.new_builder(Time.days(self.ttl_days))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
            .build()
        )
        desc.enable_time_to_live(ttl)
        self.state = runtime_context.get_state(desc)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Row]:
        kind, payload = value[1], value[2]
        try:
            event = to_event(kind, payload)
        except ValidationError as exc:
            topic = value[3]
            yield Row(f"{topic}.dlq", value[0], _dead_letter(topic, payload, str(exc)))
            return
        result = step(self.state.value(), event, self.config)
        self.state.update(result.state)
        for out in result.outputs:
            topic = self.thresholds_topic if isinstance(out, BandsOut) else self.state_topic
            yield Row(topic, event.source_id, render(event.source_id, out, result.state))


def _dead_letter(topic: str, payload: str, detail: str) -> str:
    import base64
    import uuid
    from datetime import UTC, datetime

    from schemas import DeadLetter

    now = datetime.now(UTC)
    return DeadLetter(
        event_id=f"dlq:{topic}:{uuid.uuid5(uuid.NAMESPACE_URL, payload)}",
        source_id="unknown",
        captured_at=now,
        service="flink",
        reason="schema_invalid",
        detail=detail[:2000],
        source_topic=topic,
        partition=-1,
        offset=-1,
        original_value_b64=base64.b64encode(payload.encode()).decode(),
        failed_at=now,
    ).model_dump_json()


def _source(s: FlinkSettings, topic: str) -> KafkaSource:
    return (
        KafkaSource.builder()
        .set_bootstrap_servers(s.bootstrap)
        .set_topics(topic)
        .set_group_id(s.group_id)
        # without a checkpoint to restore, resume from the offsets committed at the last checkpoint
        .set_starting_offsets(KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST))
        .set_value_only_deserializer(SimpleStringSchema())
        .set_property("isolation.level", "read_committed")
        .build()
    )


def configuration(s: FlinkSettings) -> Configuration:
    """Retained checkpoints in `checkpoint_dir`; restore from the newest one when `restore` is on."""
    conf = Configuration()
    s.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    conf.set_string("execution.checkpointing.dir", s.checkpoint_dir.resolve().as_uri())
    conf.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    conf.set_string("execution.checkpointing.num-retained", "2")
    latest = latest_checkpoint(s.checkpoint_dir) if s.restore else None
    if latest is not None:
        prune(s.checkpoint_dir, latest)
        conf.set_string("execution.state-recovery.path", str(latest))
        log.info("restoring from checkpoint %s", latest)
    else:
        log.info("no checkpoint to restore under %s; starting from committed offsets", s.checkpoint_dir)
    return conf


def build(s: FlinkSettings) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment, Any]:
    env = StreamExecutionEnvironment.get_execution_environment(configuration(s))
    env.set_python_executable(sys.executable)
    env.add_jars(*(jar.as_uri() for jar in connector_jars(s.jar_cache)))
    env.set_parallelism(s.parallelism)
    env.enable_checkpointing(s.checkpoint_ms, CheckpointingMode.EXACTLY_ONCE)
    watermarks = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(int(s.config.lateness_s)))
    row = Types.ROW([Types.STRING(), Types.STRING(), Types.STRING(), Types.STRING()])

    def tagged(topic: str, kind: str) -> Any:
        return env.from_source(_source(s, topic), watermarks, f"kafka:{topic}").map(
            lambda v, k=kind, t=topic: Row(_source_id(v), k, v, t), output_type=row
        )

    events = tagged(s.detections_topic, "detection").union(tagged(s.verdicts_topic, "verdict"))
    out = events.key_by(lambda r: r[0], key_type=Types.STRING()).process(
        Confidence(s.config, s.state_topic, s.thresholds_topic, s.state_ttl_days), output_type=OUT
    )
    t_env = StreamTableEnvironment.create(env)
    t_env.execute_sql(f"""
        CREATE TABLE roadwatch_out (
            `topic` STRING METADATA,
            `k` STRING,
            `v` STRING
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{s.state_topic};{s.thresholds_topic};{s.detections_topic}.dlq;{s.verdicts_topic}.dlq',
            'properties.bootstrap.servers' = '{s.bootstrap}',
            'key.format' = 'raw', 'key.fields' = 'k',
            'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY',
            'sink.delivery-guarantee' = 'exactly-once',
            'sink.transactional-id-prefix' = '{s.group_id}-tx',
            'properties.transaction.timeout.ms' = '600000'
        )""")
    return env, t_env, t_env.from_data_stream(out)


def _source_id(value: str) -> str:
    import json

    try:
        data = json.loads(value)
    except ValueError:
        return "unknown"
    sid = data.get("source_id") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) else "unknown"


def main() -> None:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = FlinkSettings()
    _, _, table = build(s)
    log.info(
        "submitting confidence-state job: %s + %s -> %s, %s",
        s.detections_topic,
        s.verdicts_topic,
        s.state_topic,
        s.thresholds_topic,
    )
    table.execute_insert("roadwatch_out").wait()


if __name__ == "__main__":
    main()
