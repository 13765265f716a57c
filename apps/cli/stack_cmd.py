"""`roadwatch [--profile cluster] stack up|down|status [--json]`: the profile's local stack as one unit (the
embedded profile: one broker; the cluster profile: `roadwatch.stack.cluster`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from typing import Any

from flink_jobs.settings import CHECKPOINTS_ROOT as FLINK_CHECKPOINTS
from roadwatch.kafka import admin
from roadwatch.kafka.topics import all_topics
from roadwatch.settings import KafkaSettings, profile
from roadwatch.stack import control
from roadwatch.stack.cluster import control as cluster
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.settings import StackSettings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stack", help="the profile's local stack (embedded: one broker; cluster: see README)")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="resolve jars, start what is not running, create topics").set_defaults(
        handler=_up
    )
    down = actions.add_parser("down", help="stop what `up` started")
    down.add_argument("--wipe", action="store_true", help="also delete its data")
    down.set_defaults(handler=_down)
    status = actions.add_parser("status", help="components, topics (ISR on the cluster), Flink, consumer lag")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(handler=_status)


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
    if profile() == "cluster":
        st = cluster.up(ClusterSettings(), {"ROADWATCH_PROFILE": "cluster"})
        for c in st.components:
            sys.stdout.write(f"{c.name:22} {'healthy' if c.healthy else 'NOT HEALTHY':12} {c.address}\n")
        return 0 if st.healthy else 1
    kafka = control.up(StackSettings())
    sys.stdout.write(f"kafka ready at {kafka.bootstrap_servers}\n")
    return 0


def _down(args: argparse.Namespace) -> int:
    if profile() == "cluster":
        s = ClusterSettings()
        was = cluster.down(s, wipe=args.wipe)
        wiped = f" and wiped ({s.home})\n"
    else:
        was = control.down(StackSettings(), wipe=args.wipe)
        # the Flink job's retained checkpoints hold offsets into the topics a wipe deletes
        if args.wipe and FLINK_CHECKPOINTS.exists():
            shutil.rmtree(FLINK_CHECKPOINTS)
        wiped = f" and wiped (Kafka data, {FLINK_CHECKPOINTS})\n"
    sys.stdout.write(("stopped" if was else "not running") + (wiped if args.wipe else "\n"))
    return 0


def _status(args: argparse.Namespace) -> int:
    if profile() == "cluster":
        return _cluster_status(ClusterSettings(), args.json)
    stack = StackSettings()
    st = control.status(stack, stack.client_settings())
    if args.json:
        sys.stdout.write(json.dumps({"profile": "embedded", **dataclasses.asdict(st)}) + "\n")
        return 0 if st.pid else 1
    out = sys.stdout
    state = f"running (pid {st.pid})" if st.pid else "not running"
    out.write(f"broker: {state} at {st.bootstrap}\n")
    for t in st.topics:
        out.write(f"  {t.name:32} partitions={t.partitions:<3} records={t.end_offsets}\n")
    for g in st.lags:
        out.write(f"  group {g.group:28} {g.topic:28} lag={g.lag}\n")
    return 0 if st.pid else 1


def _cluster_status(s: ClusterSettings, as_json: bool) -> int:
    st = cluster.status(s)
    if as_json:
        figures: dict[str, Any] = {"profile": "cluster", "healthy": st.healthy, **dataclasses.asdict(st)}
        sys.stdout.write(json.dumps(figures) + "\n")
        return 0 if st.healthy else 1
    out = sys.stdout
    for c in st.components:
        pid = f"pid {c.pid}" if c.pid else "not running"
        out.write(
            f"{c.name:22} {'healthy' if c.healthy else 'NOT HEALTHY':12} {c.address:28} {pid:12} {c.log}\n"
        )
    out.write(f"brokers: {st.brokers}\n")
    short = [p for p in st.partitions if len(p.isr) < len(p.replicas) or p.leader < 0]
    out.write(f"partitions: {len(st.partitions)}, under-replicated or leaderless: {len(short)}\n")
    for p in short:
        out.write(
            f"  {p.topic}[{p.partition}] leader={p.leader} replicas={list(p.replicas)} isr={list(p.isr)}\n"
        )
    for j in st.flink_jobs[:3]:
        out.write(f"flink job {j.id} {j.state} ({j.name})\n")
    for g in st.lags:
        out.write(f"  group {g.group:28} {g.topic:28} lag={g.lag}\n")
    return 0 if st.healthy else 1
