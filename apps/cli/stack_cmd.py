"""`roadwatch stack up|down|status`."""

from __future__ import annotations

import argparse
import shutil
import sys

from flink_jobs.settings import CHECKPOINTS_ROOT as FLINK_CHECKPOINTS
from roadwatch.kafka import admin
from roadwatch.kafka.topics import all_topics
from roadwatch.settings import KafkaSettings
from roadwatch.stack import control
from roadwatch.stack.settings import StackSettings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stack", help="the embedded local Kafka stack")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="resolve jars, start the broker, create topics").set_defaults(handler=_up)
    down = actions.add_parser("down", help="stop the broker started by `up`")
    down.add_argument("--wipe", action="store_true", help="also delete its data")
    down.set_defaults(handler=_down)
    actions.add_parser("status", help="broker, topics, partitions, consumer lag").set_defaults(
        handler=_status
    )


def register_topics(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("topics", help="topics on any cluster (ROADWATCH_KAFKA_*)")
    actions = p.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create every roadwatch topic that is missing (idempotent)")
    create.set_defaults(handler=_create_topics)


def _create_topics(args: argparse.Namespace) -> int:
    stack = StackSettings()
    kafka = KafkaSettings()
    admin.wait_until_ready(kafka.client_config(), timeout_s=stack.start_timeout_s)
    created = admin.ensure_topics(kafka.client_config(), all_topics(stack.partitions, stack.retention_ms))
    sys.stdout.write(f"created {len(created)} topics: {', '.join(sorted(created)) or '-'}\n")
    return 0


def _up(args: argparse.Namespace) -> int:
    kafka = control.up(StackSettings())
    sys.stdout.write(f"kafka ready at {kafka.bootstrap_servers}\n")
    return 0


def _down(args: argparse.Namespace) -> int:
    was = control.down(StackSettings(), wipe=args.wipe)
    # the Flink job's retained checkpoints hold offsets into the topics a wipe deletes
    if args.wipe and FLINK_CHECKPOINTS.exists():
        shutil.rmtree(FLINK_CHECKPOINTS)
    wiped = f" and wiped (Kafka data, {FLINK_CHECKPOINTS})\n"
    sys.stdout.write(("stopped" if was else "not running") + (wiped if args.wipe else "\n"))
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = StackSettings()
    st = control.status(stack, stack.client_settings())
    out = sys.stdout
    state = f"running (pid {st.pid})" if st.pid else "not running"
    out.write(f"broker: {state} at {st.bootstrap}\n")
    for t in st.topics:
        out.write(f"  {t.name:32} partitions={t.partitions:<3} records={t.end_offsets}\n")
    for g in st.lags:
        out.write(f"  group {g.group:28} {g.topic:28} lag={g.lag}\n")
    return 0 if st.pid else 1
