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
from roadwatch.vision.scoring import DETECTION_ONLY_MIDPOINT
from schemas.records import VLM_TIERS

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


# Shadow variants against production, one pair per event and stage (`detector` or a tier): each side's
# first answer as its decision, roadwork probability, latency and roadwork prediction (a detector's: its
# score against the detection-only midpoint; a tier's: its answer, when it answered)
_DETECTOR_PAIRS = f"""
    with p as (
        select event_id, image_sha256, roadwork_score, decision, inference_ms from detections
        where variant is null qualify row_number() over (partition by event_id order by detected_at) = 1),
    s as (
        select event_id, variant, roadwork_score, decision, inference_ms from shadow_detections
        where variant is not null
        qualify row_number() over (partition by event_id, variant order by detected_at) = 1)
    select s.variant, 'detector' as stage, event_id, p.image_sha256,
           p.decision as p_decision, s.decision as s_decision,
           p.roadwork_score as p_score, s.roadwork_score as s_score,
           p.inference_ms as p_ms, s.inference_ms as s_ms,
           p.roadwork_score >= {DETECTION_ONLY_MIDPOINT} as p_roadwork,
           s.roadwork_score >= {DETECTION_ONLY_MIDPOINT} as s_roadwork
    from s join p using (event_id)
"""
_TIER_PAIRS = """
    with v as (
        select event_id, list_filter(opinions, lambda o: o.tier = '{tier}')[1] as po from verdicts
        qualify row_number() over (partition by event_id order by decided_at desc) = 1),
    s as (
        select event_id, variant, image_sha256, opinion as so from shadow_opinions
        where opinion.tier = '{tier}'
        qualify row_number() over (partition by event_id, variant order by opined_at) = 1)
    select s.variant, '{tier}' as stage, event_id, s.image_sha256,
           if(po.outcome = 'answered', if(po.roadwork, 'roadwork', 'clear'), po.outcome) as p_decision,
           if(so.outcome = 'answered', if(so.roadwork, 'roadwork', 'clear'), so.outcome) as s_decision,
           if(po.outcome = 'answered', if(po.roadwork, po.confidence, 1 - po.confidence), null) as p_score,
           if(so.outcome = 'answered', if(so.roadwork, so.confidence, 1 - so.confidence), null) as s_score,
           po.latency_ms as p_ms, so.latency_ms as s_ms,
           if(po.outcome = 'answered', po.roadwork, null) as p_roadwork,
           if(so.outcome = 'answered', so.roadwork, null) as s_roadwork
    from s join v using (event_id) where po is not null
"""
VARIANT_PAIRS = " union all ".join(
    f"({q})" for q in (_DETECTOR_PAIRS, *(_TIER_PAIRS.format(tier=t) for t in VLM_TIERS))
)
_SIDES = {"p": "production", "s": "variant"}
VARIANT_FIGURES = f"""
    select variant, stage, count(*) as events,
           round(avg(if(p_decision = s_decision, 1.0, 0.0)), 4) as agreement,
           {
    ", ".join(
        f"round(avg({k}_score), 4) as {n}_score_mean, "
        f"round(quantile_cont({k}_score, 0.5), 4) as {n}_score_p50, "
        f"round(quantile_cont({k}_score, 0.9), 4) as {n}_score_p90, "
        f"round(quantile_cont({k}_ms, 0.5), 2) as {n}_latency_p50_ms, "
        f"round(quantile_cont({k}_ms, 0.99), 2) as {n}_latency_p99_ms"
        for k, n in _SIDES.items()
    )
}
    from pairs where $variant is null or variant = $variant group by 1, 2 order by 1, 2
"""
_CELLS = {"tp": ("", ""), "fp": ("not ", ""), "tn": ("not ", "not "), "fn": ("", "not ")}
VARIANT_LABELLED = f"""
    with l as (
        select image_sha256, roadwork as truth from labels
        qualify row_number() over (partition by image_sha256 order by labelled_at desc, label_id desc) = 1)
    select variant, stage, {
    ", ".join(
        f"count(*) filter (where {t}truth and {p}{k}_roadwork) as {k}_{cell}"
        for k in _SIDES
        for cell, (t, p) in _CELLS.items()
    )
}
    from pairs join l using (image_sha256)
    where ($variant is null or variant = $variant) and p_roadwork is not null and s_roadwork is not null
    group by 1, 2
"""


def variants(con: duckdb.DuckDBPyConnection, variant: str | None) -> Rows:
    """Each shadow variant (or only `variant`) against production on the events both answered, per stage
    (`detector`, or the tier the variant shadows): `agreement` (the same decision: a detector's roadwork,
    clear or escalate; a tier's roadwork, clear, unparseable or failed), each side's roadwork probability
    (mean, p50, p90) and latency (p50, p99: a detector's model inference, a tier's call), and on the
    labelled events both predicted (the newest label of the image) each side's accuracy and MCC (a detector
    predicts roadwork at or above the detection-only midpoint, a tier by its answer).

    Raises:
        ConfigError: `variant` names no shadow output stored beside a production answer.
    """
    con.execute(f"create temp view pairs as {VARIANT_PAIRS}")
    params = {"variant": variant}
    rows = _named(con, VARIANT_FIGURES, params)
    if variant is not None and not rows:
        known = [r["variant"] for r in rows_of(con, "select distinct variant from pairs order by 1")]
        raise ConfigError(f"no shadow output of variant {variant!r} beside production's (stored: {known})")
    counts = {(r["variant"], r["stage"]): r for r in _named(con, VARIANT_LABELLED, params)}
    for row in rows:
        cells = counts.get((row["variant"], row["stage"]), {})
        for k, name in _SIDES.items():
            c = Confusion(**{cell: cells.get(f"{k}_{cell}", 0) for cell in _CELLS})
            row["labelled"] = c.total
            row[f"{name}_accuracy"], row[f"{name}_mcc"] = round(c.accuracy, 4), round(c.mcc, 4)
    return rows


def _named(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> Rows:
    """`rows_of` with named parameters (`$name`)."""
    rel = con.execute(sql, params)
    cols = [d[0] for d in rel.description or []]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


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
# What `models --variant` reads
VARIANT_COLUMNS: dict[str, tuple[str, ...]] = {
    "detections": (
        "event_id",
        "image_sha256",
        "roadwork_score",
        "decision",
        "inference_ms",
        "detected_at",
        "variant",
    ),
    "shadow_detections": ("event_id", "variant", "roadwork_score", "decision", "inference_ms", "detected_at"),
    "verdicts": ("event_id", "opinions", "decided_at"),
    "shadow_opinions": ("event_id", "variant", "image_sha256", "opinion", "opined_at"),
}
ALL_VARIANTS = (
    "*"  # `models --variant '*'`: every variant (not a variant's name: see schemas.records.VARIANT)
)
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
    variant: str | None = None,
) -> Rows:
    """Ask one named question over the tables (default: the configured catalog's; filters pushed into the
    Iceberg scans). `models` with a `variant` compares that shadow variant (`ALL_VARIANTS`: every one) with
    production (`variants`)."""
    if name == "why" and not event_id:
        raise ConfigError("`roadwatch query why` needs an EVENT_ID")
    if variant is not None and name != "models":
        raise ConfigError("--variant is an option of `roadwatch query models`")
    tables = tables or Tables.open()
    if variant is not None:
        con = tables.duckdb(since=since, source=source, columns=VARIANT_COLUMNS)
        con.register("labels", tables.read("labels", columns=UNFILTERED["quality"]["labels"]))
        return variants(con, None if variant == ALL_VARIANTS else variant)
    con = tables.duckdb(
        since=since, source=source, event_id=event_id if name == "why" else None, columns=COLUMNS.get(name)
    )
    for table, columns in UNFILTERED.get(name, {}).items():
        con.register(table, tables.read(table, columns=columns))
    if name == "tiers":
        return QUERIES[name](con, QuerySettings().cost_per_call)
    return QUERIES[name](con)
