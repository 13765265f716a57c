"""The named questions: each is SQL over the registered tables, returning a list of row dicts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb

from roadwatch.analytics.scores import Confusion
from roadwatch.analytics.settings import QuerySettings
from roadwatch.analytics.tables import Tables
from roadwatch.errors import ConfigError

Rows = list[dict[str, Any]]


def rows_of(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Rows:
    """The result of `sql` as one dict per row."""
    rel = con.execute(sql, params or [])
    cols = [d[0] for d in rel.description or []]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def funnel(con: duckdb.DuckDBPyConnection) -> Rows:
    """Images in, decided per tier, degraded, dead letters."""
    (summary,) = rows_of(
        con,
        """
        select (select count(distinct event_id) from detections) as images,
               (select count(*) from verdicts) as verdicts,
               (select count(distinct event_id) from verdicts) as distinct_verdicts,
               (select count(*) from detections where decision = 'escalate') as escalated,
               (select count(*) from verdicts where degraded) as degraded,
               (select count(*) from verdicts where roadwork) as roadwork,
               (select count(*) from dead_letters) as dead_letters
    """,
    )
    summary["decided_by"] = {
        r["decided_by"]: r["n"]
        for r in rows_of(con, "select decided_by, count(*) as n from verdicts group by 1 order by 1")
    }
    return [summary]


def tiers(con: duckdb.DuckDBPyConnection, cost_per_call: dict[str, float]) -> Rows:
    """Per tier: calls, outcomes, latency, and a cost estimate from the per-call prices."""
    rows = rows_of(
        con,
        """
        with o as (select unnest(opinions) as o from verdicts)
        select o.tier as tier, o.backend as backend, count(*) as calls,
               count(*) filter (where o.outcome = 'answered') as answered,
               count(*) filter (where o.outcome = 'unparseable') as unparseable,
               count(*) filter (where o.outcome = 'failed') as failed,
               round(avg(o.latency_ms), 1) as avg_ms,
               round(quantile_cont(o.latency_ms, 0.5), 1) as p50_ms,
               round(quantile_cont(o.latency_ms, 0.95), 1) as p95_ms,
               round(quantile_cont(o.latency_ms, 0.99), 1) as p99_ms
        from o group by 1, 2 order by 1, 2
    """,
    )
    for r in rows:
        r["cost_estimate"] = round(r["calls"] * cost_per_call.get(r["backend"], 0.0), 4)
    return rows


def confidence(con: duckdb.DuckDBPyConnection) -> Rows:
    """Per source and hour: images, mean detector score, roadwork rate of the final verdicts."""
    return rows_of(
        con,
        """
        select d.source_id, date_trunc('hour', d.captured_at) as hour, count(*) as images,
               round(avg(d.roadwork_score), 4) as mean_score,
               round(avg(case when v.roadwork then 1.0 else 0.0 end), 4) as roadwork_rate,
               round(avg(v.confidence), 4) as mean_confidence
        from detections d left join verdicts v using (event_id)
        group by 1, 2 order by 1, 2
    """,
    )


def timeline(con: duckdb.DuckDBPyConnection) -> Rows:
    """Roadwork on/off per source: the Flink job's alerts, or runs of final verdicts if it has none."""
    alerts = rows_of(
        con,
        """
        select source_id, captured_at as at, alert from source_state where alert is not null order by 1, 2
    """,
    )
    if alerts:
        return alerts
    return rows_of(
        con,
        """
        with v as (
            select source_id, captured_at, roadwork,
                   lag(roadwork) over (partition by source_id order by captured_at) as prev
            from verdicts)
        select source_id, captured_at as at,
               case when roadwork then 'roadwork_started' else 'roadwork_cleared' end as alert
        from v where prev is null or prev <> roadwork order by 1, 2
    """,
    )


def models(con: duckdb.DuckDBPyConnection) -> Rows:
    """Compare models and prompt versions on the same sources: calls, roadwork rate, agreement with final."""
    return rows_of(
        con,
        """
        with o as (select v.source_id, v.roadwork as final, unnest(v.opinions) as o from verdicts v)
        select o.model as model, o.prompt_version as prompt_version, count(*) as calls,
               count(distinct source_id) as sources,
               round(avg(case when o.roadwork then 1.0 else 0.0 end), 4) as roadwork_rate,
               round(avg(o.confidence), 4) as mean_confidence,
               round(avg(case when o.roadwork = final then 1.0 else 0.0 end), 4) as agreement_with_final
        from o where o.outcome = 'answered' group by 1, 2 order by 1, 2
    """,
    )


def why(con: duckdb.DuckDBPyConnection) -> Rows:
    """The full audit trail of one image (the connection is already filtered to its event_id)."""
    trail: Rows = []
    for r in rows_of(con, "select * from detections"):
        trail.append(
            {
                "table": "detections",
                "decision": r["decision"],
                "roadwork_score": r["roadwork_score"],
                "band": [r["band_low"], r["band_high"]],
                "models": r["models"],
                "boxes": len(r["detections"]),
                "at": r["detected_at"],
                "kafka": f"{r['kafka_topic']}:{r['kafka_partition']}:{r['kafka_offset']}",
            }
        )
    for r in rows_of(con, "select * from verdicts"):
        trail.append(
            {
                "table": "verdicts",
                "roadwork": r["roadwork"],
                "confidence": r["confidence"],
                "decided_by": r["decided_by"],
                "tier_path": r["tier_path"],
                "degraded": r["degraded"],
                "degraded_reason": r["degraded_reason"],
                "opinions": [
                    {
                        k: o[k]
                        for k in (
                            "tier",
                            "backend",
                            "model",
                            "prompt_version",
                            "outcome",
                            "roadwork",
                            "confidence",
                            "latency_ms",
                            "evidence",
                        )
                    }
                    for o in r["opinions"]
                ],
                "at": r["decided_at"],
            }
        )
    for r in rows_of(con, "select * from dead_letters"):
        trail.append(
            {
                "table": "dead_letters",
                "service": r["service"],
                "reason": r["reason"],
                "detail": r["detail"],
                "source": f"{r['source_topic']}:{r['partition']}:{r['offset']}",
                "at": r["failed_at"],
            }
        )
    return trail


def dead_letters(con: duckdb.DuckDBPyConnection) -> Rows:
    """Dead letters by service, reason and source topic."""
    return rows_of(
        con,
        """
        select service, reason, source_topic, count(*) as n, min(failed_at) as first, max(failed_at) as last
        from dead_letters group by 1, 2, 3 order by n desc, 1, 2
    """,
    )


# Each event's newest verdict beside the newest label of its image (labels are matched by image sha256: an
# image produced again under another source shares its labels)
LABELLED = """
    with v as (
        select event_id, source_id, decided_by, roadwork from verdicts
        qualify row_number() over (partition by event_id order by decided_at desc) = 1),
    d as (select distinct event_id, image_sha256 from detections),
    l as (
        select image_sha256, roadwork from labels
        qualify row_number() over (partition by image_sha256 order by labelled_at desc, label_id desc) = 1)
    select v.source_id, v.decided_by, v.roadwork as predicted, l.roadwork as truth
    from v join d using (event_id) join l using (image_sha256)
"""


def quality(con: duckdb.DuckDBPyConnection) -> Rows:
    """Accuracy, precision, recall and MCC of the final verdicts against the newest labels: over every
    labelled event, per tier that decided, per source."""
    counts = """
        select {key} as key, count(*) filter (where truth and predicted) as tp,
               count(*) filter (where not truth and predicted) as fp,
               count(*) filter (where not truth and not predicted) as tn,
               count(*) filter (where truth and not predicted) as fn
        from labelled group by 1 order by 1
    """
    con.execute(f"create temp view labelled as {LABELLED}")
    out: Rows = []
    for scope, key in (("all", "'all'"), ("tier", "decided_by"), ("source", "source_id")):
        for r in rows_of(con, counts.format(key=key)):
            c = Confusion(tp=r["tp"], fp=r["fp"], tn=r["tn"], fn=r["fn"])
            if c.total:
                out.append({"scope": scope, "key": r["key"], **c.as_dict()})
    return out


QUERIES: dict[str, Callable[..., Rows]] = {
    "funnel": funnel,
    "tiers": tiers,
    "confidence": confidence,
    "timeline": timeline,
    "models": models,
    "why": why,
    "dead-letters": dead_letters,
    "quality": quality,
}


# What a question reads, per table: only these are scanned (a question not named here reads everything)
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "funnel": {
        "detections": ("event_id", "decision"),
        "verdicts": ("event_id", "decided_by", "degraded", "roadwork"),
        "dead_letters": ("event_id",),
    },
    "tiers": {"verdicts": ("opinions",)},
    "dead-letters": {"dead_letters": ("service", "reason", "source_topic", "failed_at")},
    "quality": {
        "verdicts": ("event_id", "source_id", "decided_by", "roadwork", "decided_at"),
        "detections": ("event_id", "image_sha256"),
    },
}
# What a question reads whatever the filters say: an image's labels hold for every event showing it
UNFILTERED: dict[str, dict[str, tuple[str, ...]]] = {
    "quality": {"labels": ("image_sha256", "roadwork", "labelled_at", "label_id")},
}


def run_query(
    name: str,
    *,
    since: datetime | None = None,
    source: str | None = None,
    event_id: str | None = None,
    tables: Tables | None = None,
) -> Rows:
    """Ask one named question over the tables (default: the configured catalog's; filters pushed into the
    Iceberg scans)."""
    if name == "why" and not event_id:
        raise ConfigError("`roadwatch query why` needs an EVENT_ID")
    tables = tables or Tables.open()
    con = tables.duckdb(
        since=since, source=source, event_id=event_id if name == "why" else None, columns=COLUMNS.get(name)
    )
    for table, columns in UNFILTERED.get(name, {}).items():
        con.register(table, tables.read(table, columns=columns))
    if name == "tiers":
        return QUERIES[name](con, QuerySettings().cost_per_call)
    return QUERIES[name](con)
