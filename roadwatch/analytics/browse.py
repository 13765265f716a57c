"""Rows for a person browsing the tables (the web console's pages and API): a page of verdicts, the
cameras, one event whole, dead letters with their originals. Reads push the source and time filters into
the Iceberg scans and select only the columns shown; the aggregates (`funnel`, `tiers`) stay in
`queries`, so the console and `roadwatch query` give the same numbers."""

from __future__ import annotations

import base64
import binascii
import queue
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
from pyiceberg.expressions import And, BooleanExpression, EqualTo, LessThan

from roadwatch.analytics.queries import Rows, rows_of, why
from roadwatch.analytics.tables import Tables, row_filter
from roadwatch.labels.store import image_labels

VERDICT_COLUMNS = (
    "event_id",
    "source_id",
    "captured_at",
    "roadwork",
    "confidence",
    "decided_by",
    "tier_path",
    "detector_score",
    "degraded",
    "degraded_reason",
    "decided_at",
)
SHOWN_ORIGINAL = 4096  # characters of a dead letter's original record shown
_idle: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()  # connections between queries


@dataclass(frozen=True)
class VerdictFilter:
    source: str | None = None
    roadwork: bool | None = None
    tier: str | None = None  # decided_by
    degraded: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


def verdicts(tables: Tables, f: VerdictFilter) -> Rows:
    """The newest verdicts matching `f`, newest first. Every filter goes into the Iceberg scan, which reads
    data files newest first and stops once no file left can hold one of the `limit` newest (`newest`)."""
    table = tables.newest("verdicts", "decided_at", f.limit, where=_scan_filter(f), columns=VERDICT_COLUMNS)
    return _sql(  # the scan applied every filter to the rows: what is left is the order and the cut
        {"verdicts": table},
        "select * from verdicts order by decided_at desc, event_id limit ?",
        [f.limit],
    )


def _scan_filter(f: VerdictFilter) -> BooleanExpression:
    expr = row_filter(f.since, f.source)
    for column, value in (("roadwork", f.roadwork), ("decided_by", f.tier), ("degraded", f.degraded)):
        if value is not None:
            expr = And(expr, EqualTo(column, value))  # type: ignore[call-arg]
    if f.until is not None:
        expr = And(expr, LessThan("captured_at", f.until.isoformat()))  # type: ignore[call-arg]
    return expr


def boxes(tables: Tables, rows: Rows) -> dict[str, list[dict[str, Any]]]:
    """The detector's boxes of each of a page's verdicts (`rows`: their `event_id` and `captured_at`): the
    ids go into the scan's filter, and the page's captured_at range prunes the files and days to read."""
    if not rows:
        return {}
    times = [r["captured_at"] for r in rows]
    table = tables.read(
        "detections",
        event_ids=[r["event_id"] for r in rows],
        since=min(times),
        until=max(times),
        columns=("event_id", "detections"),
    )
    return {r["event_id"]: r["detections"] for r in table.to_pylist()}


def sources(tables: Tables) -> Rows:
    """Every camera: its latest Flink state (roadwork on or off and since when), verdict counts, the last
    detector scores (oldest first, for a sparkline) and its newest image's event."""
    state = tables.read("source_state")
    verdict_rows = tables.read("verdicts", columns=("event_id", "source_id", "roadwork", "captured_at"))
    detections = tables.read(
        "detections", columns=("event_id", "source_id", "roadwork_score", "decision", "captured_at")
    )
    return _sql(
        {"source_state": state, "verdicts": verdict_rows, "detections": detections},
        """
        with latest as (
            select source_id, arg_max(roadwork_active, updated_at) as roadwork_active,
                   max(updated_at) as state_at, arg_max(escalation_rate, updated_at) as escalation_rate,
                   arg_max(ewma_confidence, updated_at) as ewma_confidence,
                   arg_max(events, updated_at) as events
            from source_state group by 1),
        since as (  -- the last alert that set today's state: roadwork on (or off) since then
            select source_id, max(updated_at) as since from source_state
            where alert is not null group by 1),
        v as (
            select source_id, count(*) as verdicts, count(*) filter (where roadwork) as roadwork_verdicts,
                   max(captured_at) as last_seen, arg_max(event_id, captured_at) as last_event_id
            from verdicts group by 1),
        d as (
            select source_id, count(*) as images,
                   count(*) filter (where decision = 'escalate') as escalated,
                   list(roadwork_score order by captured_at) as scores
            from detections group by 1)
        select coalesce(v.source_id, d.source_id, latest.source_id) as source_id,
               latest.roadwork_active, since.since, latest.state_at, latest.ewma_confidence,
               coalesce(d.images, 0) as images, coalesce(d.escalated, 0) as escalated,
               coalesce(v.verdicts, 0) as verdicts, coalesce(v.roadwork_verdicts, 0) as roadwork_verdicts,
               v.last_seen, v.last_event_id, coalesce(d.scores[-60:], []) as scores
        from v full join d using (source_id) full join latest using (source_id)
        left join since using (source_id)
        order by 1
        """,
    )


def event(tables: Tables, event_id: str) -> dict[str, Any] | None:
    """Everything the tables hold about one image (None if they hold nothing): its detector result with
    every box, its verdict with each tier's opinion, its labels (newest first: the first holds), its dead
    letters, and the audit trail `query why` prints."""
    rows = {name: tables.read(name, event_id=event_id).to_pylist() for name in ("detections", "verdicts")}
    letters = tables.read("dead_letters", event_id=event_id).to_pylist()
    if not (rows["detections"] or rows["verdicts"] or letters):
        return None
    con = tables.duckdb(event_id=event_id)
    return {
        "event_id": event_id,
        "detection": rows["detections"][0] if rows["detections"] else None,
        "verdict": rows["verdicts"][0] if rows["verdicts"] else None,
        "labels": image_labels(tables, rows["detections"][0]["image_sha256"]) if rows["detections"] else [],
        "dead_letters": [_shown(r) for r in letters],
        "trail": why(con),
    }


def dead_letters(tables: Tables, *, reason: str | None = None, limit: int = 100) -> Rows:
    """The newest dead letters (of one reason, if given) with their original record as text."""
    table = tables.read("dead_letters")
    where, params = ("reason = ?", [reason]) if reason else ("true", [])
    rows = _sql(
        {"dead_letters": table},
        f"select * from dead_letters where {where} order by failed_at desc limit ?",
        [*params, limit],
    )
    return [_shown(r) for r in rows]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A dead letter with its original value as (escaped later, never interpreted) text."""
    out = {k: v for k, v in row.items() if k not in ("original_value_b64", "original_key_b64")}
    out["original_text"] = _text(row.get("original_value_b64"))
    out["original_key"] = _text(row.get("original_key_b64"))
    return out


def _text(b64: str | None) -> str | None:
    if b64 is None:
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return f"(not base64: {b64[:80]!r})"
    text = raw[:SHOWN_ORIGINAL].decode("utf-8", "replace")
    return text + (f" … ({len(raw)} bytes in all)" if len(raw) > SHOWN_ORIGINAL else "")


def _sql(registered: dict[str, pa.Table], sql: str, params: list[Any] | None = None) -> Rows:
    """`sql` over `registered` on an idle DuckDB connection of this process, made on first need (a connect
    costs ~20 ms, more than a page's query); the names are unregistered after, so no table is kept."""
    try:
        con = _idle.get_nowait()
    except queue.Empty:
        con = duckdb.connect()
    try:
        for name, table in registered.items():
            con.register(name, table)
        return rows_of(con, sql, params)
    finally:
        for name in registered:
            con.unregister(name)
        _idle.put(con)
