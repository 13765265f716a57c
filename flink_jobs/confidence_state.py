"""The PyFlink DataStream job: detections.v1 + verdicts.v1 (+ the bands `tune --apply` put on
thresholds.v1) → keyed by source_id → state machine → source-state.v1 and thresholds.v1 (compacted),
exactly once (checkpoints + Kafka transactions).

The JVM side (Kafka SQL sources, a per-source processing-time window) hands Python one batch of a source's
records per call; the keyed process function folds them with the pure `step` in partition order.

Run: `roadwatch run flink` (a local mini-cluster in .venv-flink), or submit this file to a Flink cluster.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any

from pydantic import ValidationError
from pyflink.common import Configuration, Row, Types
from pyflink.common.time import Time
from pyflink.datastream import (
    CheckpointingMode,
    KeyedProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from pyflink.datastream.data_stream import KeyedStream
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor
from pyflink.java_gateway import get_gateway
from pyflink.table import StreamTableEnvironment

from flink_jobs.checkpoints import latest_checkpoint, prune
from flink_jobs.connector import connector_jars
from flink_jobs.records import render, to_applied, to_event
from flink_jobs.settings import FlinkSettings, java_client_properties
from flink_jobs.state_machine import BandsOut, step
from roadwatch.kafka.deadletter import RawRecord, dead_letter, failure
from roadwatch.kafka.topics import dlq
from roadwatch.logs import setup_logging
from roadwatch.serving import run_until_signalled, serving
from roadwatch.settings import KafkaSettings
from roadwatch.startup import one_line_errors

log = logging.getLogger(__name__)
# a batch record's `kind`: 0 a thresholds.v1 record (an applied band folds before the traffic of its
# batch), then detections and verdicts
THRESHOLD, DETECTION, VERDICT = 0, 1, 2
# builds a job and submits it; returns its job client
Submit = Callable[[FlinkSettings, KafkaSettings], Any]
# Values stay bytes from Kafka to Python and back (`raw` BYTES columns): the JVM decoding each value into a
# String and encoding it again for Python cost as much as everything else between Kafka and the fold
# (bench/RESULTS.md), and a dead letter keeps the bytes as they came, valid UTF-8 or not.
VALUE = Types.PRIMITIVE_ARRAY(Types.BYTE())
# a batch of one source: Row(source_id, kinds, partitions, offsets, values), its records' columns in
# parallel arrays (one ARRAY_AGG each over the same rows, so in the same order; a tombstone's null value
# is kept, so the arrays stay aligned): lists of ints and bytes cost the JVM and Python less than a Row
# object per record
BATCH = Types.ROW(
    [
        Types.STRING(),
        Types.OBJECT_ARRAY(Types.INT()),
        Types.OBJECT_ARRAY(Types.INT()),
        Types.OBJECT_ARRAY(Types.LONG()),
        Types.OBJECT_ARRAY(VALUE),
    ]
)
OUT = Types.ROW_NAMED(["topic", "k", "v"], [Types.STRING(), Types.STRING(), VALUE])
# records keep their order within each topic partition, as Kafka gave them
IN_ORDER = itemgetter(0, 1, 2)


class Confidence(KeyedProcessFunction):  # type: ignore[misc]
    """Holds one source's state (a ValueState with TTL) and calls the pure `step` for each record of a
    batch: `Row(source_id, kinds, partitions, offsets, values)`, keyed by the record key; a `kind` is
    `THRESHOLD`, `DETECTION` or `VERDICT`."""

    def __init__(self, s: FlinkSettings) -> None:
        self.s, self.config = s, s.config
        self.state: Any = None

    def open(self, runtime_context: RuntimeContext) -> None:
        # the State object itself, pickled only when PyFlink's state cache writes it back (once per bundle)
        desc = ValueStateDescriptor("source_state_v2", Types.PICKLED_BYTE_ARRAY())
        # PyFlink's TTL builder still takes the old `Time` (it calls to_milliseconds on it). The default
        # visibility (never return expired) turns PyFlink's state cache off: every read and write becomes a
        # round trip to the JVM (~4x slower). A silent source whose state expired but was not cleaned up
        # yet may see it once more: harmless for an EWMA of its own history.
        ttl = (
            StateTtlConfig.new_builder(Time.days(self.s.state_ttl_days))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
            .build()
        )
        desc.enable_time_to_live(ttl)
        self.state = runtime_context.get_state(desc)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Row]:
        s, key = self.s, value[0]
        state = before = self.state.value()
        for kind, partition, offset, payload in sorted(zip(*value[1:], strict=True), key=IN_ORDER):
            topic = (s.thresholds_topic, s.detections_topic, s.verdicts_topic)[kind]
            try:
                if kind == THRESHOLD:
                    event = to_applied(payload)
                else:
                    event = to_event("verdict" if kind == VERDICT else "detection", payload)
            except Exception as exc:  # noqa: BLE001 - the record becomes a dead letter with the reason
                reason, detail = failure(exc)
                if isinstance(exc, ValidationError):
                    reason = "undecodable" if payload is None else "schema_invalid"
                yield Row(
                    dlq(topic), key, _dead_letter(topic, partition, offset, key, payload, reason, detail)
                )
                continue
            if event is None:  # a band the job does not fold (its own, a tombstone, the default)
                continue
            if event.source_id != key:
                detail = f"record key {key!r} is not its source_id {event.source_id!r} (keys are source ids)"
                yield Row(
                    dlq(topic),
                    key,
                    _dead_letter(topic, partition, offset, key, payload, "key_mismatch", detail),
                )
                continue
            result = step(state, event, self.config)
            state = result.state
            for out in result.outputs:
                topic_out = s.thresholds_topic if isinstance(out, BandsOut) else s.state_topic
                yield Row(topic_out, key, render(key, out, state).encode())
        if state is not before:
            self.state.update(state)


def _dead_letter(
    topic: str, partition: int, offset: int, key: str, payload: bytes | None, reason: str, detail: str
) -> bytes:
    record = RawRecord(topic, partition, offset, key.encode("utf-8", "surrogateescape"), payload)
    return dead_letter(record, service="flink", reason=reason, detail=detail).model_dump_json().encode()


def _dead_letter_topics(s: FlinkSettings) -> str:
    """The dead-letter topics of the job's inputs, as the sink's `topic` list spells them."""
    return ";".join(dlq(t) for t in (s.detections_topic, s.verdicts_topic, s.thresholds_topic))


def _client_properties(kafka: KafkaSettings) -> str:
    """`'properties.<key>' = '<value>'` lines of a Kafka table's WITH clause."""
    return ",\n            ".join(
        f"'properties.{k}' = '{v.replace(chr(39), chr(39) * 2)}'"
        for k, v in java_client_properties(kafka).items()
    )


def _source_table(s: FlinkSettings, kafka: KafkaSettings, name: str, topic: str) -> str:
    """A Kafka source (raw keys and values, read_committed, resuming from the group's committed offsets)
    with the record's coordinates, a processing-time attribute for batching, and event-time watermarks."""
    return f"""
        CREATE TEMPORARY TABLE {name} (
            `k` STRING,
            `v` BYTES,
            `topic` STRING METADATA VIRTUAL,
            `partition` INT METADATA VIRTUAL,
            `offset` BIGINT METADATA VIRTUAL,
            `ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
            `pt` AS PROCTIME(),
            WATERMARK FOR `ts` AS `ts` - INTERVAL '1' SECOND * {int(s.lateness_s)}
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{topic}',
            {_client_properties(kafka)},
            'properties.group.id' = '{s.group_id}',
            'properties.isolation.level' = 'read_committed',
            'properties.auto.offset.reset' = 'earliest',
            'scan.startup.mode' = 'group-offsets',
            'key.format' = 'raw', 'key.fields' = 'k',
            'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY'
        )"""


def configuration(s: FlinkSettings) -> Configuration:
    """Object reuse, the mini-cluster's network memory, retained checkpoints in `checkpoints`; restore from
    the newest one when `restore` is on."""
    conf = Configuration()
    # no defensive copy of each record between chained operators (none of ours keeps one): 5-10 % of the
    # job's CPU, and the copy baseline runs on the same configuration (bench/RESULTS.md)
    conf.set_string("pipeline.object-reuse", "true")
    # the local mini-cluster's only (a session cluster keeps its TaskManagers' own)
    for option in ("taskmanager.memory.network.min", "taskmanager.memory.network.max"):
        conf.set_string(option, f"{s.network_memory_mb}mb")
    s.checkpoints.mkdir(parents=True, exist_ok=True)
    conf.set_string("execution.checkpointing.dir", s.checkpoints.resolve().as_uri())
    conf.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    conf.set_string("execution.checkpointing.num-retained", "2")
    latest = latest_checkpoint(s.checkpoints) if s.restore else None
    if latest is not None:
        prune(s.checkpoints, latest)
        conf.set_string("execution.state-recovery.path", str(latest))
        log.info("restoring from checkpoint %s", latest)
    else:
        log.info("no checkpoint to restore under %s; starting from committed offsets", s.checkpoints)
    return conf


def tables(
    s: FlinkSettings, kafka: KafkaSettings
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """The job's environment (checkpointing, parallelism, connector jars) and its Kafka tables: the three
    sources, their union `events_in`, and the exactly-once sink `roadwatch_out`. The bench's copy baseline
    (`flink_jobs.copy_job`) runs on the same."""
    # PyFlink reads its worker mode from this variable (it defaults to loopback in a local mini-cluster)
    os.environ["_python_worker_execution_mode"] = s.python_workers  # noqa: SIM112 (PyFlink spells it so)
    # read when the first call below starts the JVM
    os.environ["JVM_ARGS"] = s.jvm_environment(os.environ.get("JVM_ARGS", ""))
    env = StreamExecutionEnvironment.get_execution_environment(configuration(s))
    env.set_python_executable(sys.executable)
    env.add_jars(*(jar.as_uri() for jar in connector_jars(s.jar_cache)))
    env.set_parallelism(s.parallelism)
    env.enable_checkpointing(s.checkpoint_ms, CheckpointingMode.EXACTLY_ONCE)
    t_env = StreamTableEnvironment.create(env)
    t_env.execute_sql(_source_table(s, kafka, "detections_in", s.detections_topic))
    t_env.execute_sql(_source_table(s, kafka, "verdicts_in", s.verdicts_topic))
    t_env.execute_sql(_source_table(s, kafka, "thresholds_in", s.thresholds_topic))
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW events_in AS
        SELECT COALESCE(k, '') AS source_id, {THRESHOLD} AS kind, `partition`, `offset`, v, pt
        FROM thresholds_in
        UNION ALL
        SELECT COALESCE(k, '') AS source_id, {DETECTION} AS kind, `partition`, `offset`, v, pt
        FROM detections_in
        UNION ALL
        SELECT COALESCE(k, '') AS source_id, {VERDICT} AS kind, `partition`, `offset`, v, pt
        FROM verdicts_in""")
    t_env.execute_sql(f"""
        CREATE TABLE roadwatch_out (
            `topic` STRING METADATA,
            `k` STRING,
            `v` BYTES
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{s.state_topic};{s.thresholds_topic};{_dead_letter_topics(s)}',
            {_client_properties(kafka)},
            'key.format' = 'raw', 'key.fields' = 'k',
            'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY',
            'sink.delivery-guarantee' = 'exactly-once',
            'sink.transactional-id-prefix' = '{s.group_id}-tx',
            'properties.transaction.timeout.ms' = '600000'
        )""")
    return env, t_env


def build(
    s: FlinkSettings, kafka: KafkaSettings
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment, Any]:
    env, t_env = tables(s, kafka)
    # Batches are made in the JVM, keyed by the record key (the source_id, as every roadwatch producer
    # writes it): one call into Python per source and batch window instead of one per record (PyFlink's
    # per-element cost, and parsing JSON in SQL, are what bound the job).
    # Each batch leaves SQL already as the `Row(key, value)` PyFlink's `key_by` would make of it in a Python
    # map operator (a second trip of every batch through Python), keyed on the JVM side as `key_by` keys it.
    keyed = t_env.sql_query(f"""
        SELECT source_id, ROW(source_id, kinds, parts, offs, vals) FROM (
            SELECT source_id, ARRAY_AGG(kind) AS kinds, ARRAY_AGG(`partition`) AS parts,
                ARRAY_AGG(`offset`) AS offs, ARRAY_AGG(v RESPECT NULLS) AS vals
            FROM TABLE(TUMBLE(TABLE events_in, DESCRIPTOR(pt), INTERVAL '{s.batch_ms / 1000:.3f}' SECOND))
            GROUP BY source_id, window_start, window_end)""")
    stream = t_env.to_append_stream(keyed, Types.ROW([Types.STRING(), BATCH]))
    j_keyed = stream._j_data_stream.keyBy(
        get_gateway().jvm.KeyByKeySelector(), Types.ROW([Types.STRING()]).get_java_type_info()
    )
    out = KeyedStream(j_keyed, BATCH, stream).process(Confidence(s), output_type=OUT)
    return env, t_env, t_env.from_data_stream(out)


def submit(s: FlinkSettings, kafka: KafkaSettings) -> Any:
    """Build the job and submit it to the cluster the environment names; returns its job client."""
    _, _, table = build(s, kafka)
    log.info(
        "submitting confidence-state job: %s + %s -> %s, %s",
        s.detections_topic,
        s.verdicts_topic,
        s.state_topic,
        s.thresholds_topic,
    )
    return table.execute_insert("roadwatch_out").get_job_client()


def run(s: FlinkSettings, kafka: KafkaSettings, stop: threading.Event, submit_job: Submit = submit) -> None:
    """Submit the job and report ready once it runs; cancel it when `stop` is set."""
    with serving("flink", s.metrics_port) as health:
        job = submit_job(s, kafka)
        while not stop.wait(0.5):
            status = job.get_job_status().result().name
            if status in ("FAILED", "FINISHED", "CANCELED"):
                raise RuntimeError(f"the Flink job ended: {status}")
            health.set_ready(status == "RUNNING")
        job.cancel().result()


def serve(submit_job: Submit) -> None:
    """Run the job `submit_job` submits in a local mini-cluster until signalled; with `detached`, submit
    it to the cluster the environment names and return."""
    setup_logging()
    s, kafka = FlinkSettings(), KafkaSettings()
    if s.detached:
        log.info("submitted job %s", submit_job(s, kafka).get_job_id())
        return
    run_until_signalled(lambda stop: run(s, kafka, stop, submit_job))


@one_line_errors("flink")
def main() -> None:
    """`python -m flink_jobs` and `roadwatch run flink` (a local mini-cluster in .venv-flink); with
    `detached`, what `flink run -d` runs to submit the job to a session cluster."""
    serve(submit)


if __name__ == "__main__":
    main()
