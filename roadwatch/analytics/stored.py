"""The stored events as `replay` columns: each event's newest verdict (detector score, the first opinion of
each tier), the band its detection was decided with, and the newest label of its image.

Asked opinions (`roadwatch.analytics.opinions`: dense evaluation's, `replay --rerun`'s) fill in a tier the
verdict has no opinion of: the newest asked opinion of that tier on the event's image (by `image_sha256`).
A tier's opinion in the verdict always wins: it is what production was told."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from roadwatch.analytics.replay import F64, OUTCOME_CODES, Stored, TierColumn
from roadwatch.analytics.tables import Tables
from schemas.evaluation import opinions_def
from schemas.records import VLM_TIERS

_OPINION = "list_filter(opinions, lambda o: o.tier = '{tier}')[1] as {tier}"
_PICK = """case when v.{tier} is null then a_{tier}.op
           else struct_pack(outcome := v.{tier}.outcome, roadwork := v.{tier}.roadwork,
                            confidence := v.{tier}.confidence) end as {tier}"""
_ASKED = "left join a as a_{tier} on a_{tier}.image_sha256 = d.image_sha256 and a_{tier}.tier = '{tier}'"
SQL = f"""
    with v as (
        select event_id, source_id, detector_score, roadwork, opinions,
               {", ".join(_OPINION.format(tier=t) for t in VLM_TIERS)} from verdicts
        qualify row_number() over (partition by event_id order by decided_at desc) = 1),
    d as (
        select event_id, any_value(image_sha256) as image_sha256, any_value(band_low) as band_low,
               any_value(band_high) as band_high, bool_or(decision = 'escalate') as escalated
        from detections group by 1),
    l as (
        select image_sha256, roadwork from labels
        qualify row_number() over (partition by image_sha256 order by labelled_at desc, label_id desc) = 1),
    a as (
        select image_sha256, tier,
               struct_pack(outcome := outcome, roadwork := roadwork, confidence := confidence) as op
        from asked
        qualify row_number() over (
            partition by image_sha256, tier order by asked_at desc, opinion_id desc) = 1)
    select v.event_id, d.image_sha256, v.source_id, v.detector_score as score, coalesce(d.band_low, ?) as low,
           coalesce(d.band_high, ?) as high, v.roadwork as verdict,
           coalesce(d.escalated, len(v.opinions) > 0) as escalated,
           case when l.roadwork is null then -1 when l.roadwork then 1 else 0 end as truth,
           {", ".join(_PICK.format(tier=t) for t in VLM_TIERS)}
    from v left join d using (event_id) left join l using (image_sha256)
    {" ".join(_ASKED.format(tier=t) for t in VLM_TIERS)}
    order by v.event_id
"""
ASKED_COLUMNS = ("opinion_id", "image_sha256", "tier", "outcome", "roadwork", "confidence", "asked_at")
COLUMNS = {
    "verdicts": ("event_id", "source_id", "detector_score", "roadwork", "opinions", "decided_at"),
    "detections": ("event_id", "image_sha256", "band_low", "band_high", "decision"),
}


def load(
    tables: Tables,
    default_band: tuple[float, float],
    *,
    since: datetime | None = None,
    source: str | None = None,
    asked: list[pa.Table] | None = None,
) -> Stored:
    """`events` as replay columns."""
    return from_arrow(events(tables, default_band, since=since, source=source, asked=asked))


def events(
    tables: Tables,
    default_band: tuple[float, float],
    *,
    since: datetime | None = None,
    source: str | None = None,
    asked: list[pa.Table] | None = None,
) -> pa.Table:
    """The stored events (of `source`, captured since `since`) with `SQL`'s columns, one row per event in
    `event_id` order; an event whose detection is not stored gets `default_band`. Labels are read whatever
    the filters: they hold for the image; so are the `asked` opinions (tables of the opinions schema)."""
    con = tables.duckdb(since=since, source=source, columns=COLUMNS)
    con.register(
        "labels", tables.read("labels", columns=("image_sha256", "roadwork", "labelled_at", "label_id"))
    )
    parts = [t.select(ASKED_COLUMNS) for t in asked or []]
    empty = opinions_def().schema.as_arrow().empty_table().select(ASKED_COLUMNS)
    con.register("asked", pa.concat_tables([empty, *parts], promote_options="permissive"))
    return con.sql(SQL, params=list(default_band)).to_arrow_table()


def from_arrow(table: pa.Table) -> Stored:
    """`Stored` of a table with `SQL`'s columns."""
    sources = pc.dictionary_encode(table.column("source_id")).combine_chunks()
    return Stored(
        sources=sources.dictionary.to_pylist(),
        source=sources.indices.to_numpy(zero_copy_only=False).astype(np.int32),
        score=_floats(table, "score"),
        low=_floats(table, "low"),
        high=_floats(table, "high"),
        tiers={t: _tier(table.column(t)) for t in VLM_TIERS},
        truth=table.column("truth").to_numpy().astype(np.int8),
        verdict=table.column("verdict").to_numpy(zero_copy_only=False).astype(bool),
        escalated=table.column("escalated").to_numpy(zero_copy_only=False).astype(bool),
    )


def _floats(table: pa.Table, name: str) -> F64:
    return np.asarray(table.column(name).to_numpy(), np.float64)


def _tier(column: pa.ChunkedArray) -> TierColumn:
    opinions = column.combine_chunks()
    outcome = np.zeros(len(opinions), np.int8)
    text = pc.struct_field(opinions, "outcome")
    for name, code in OUTCOME_CODES.items():
        outcome[np.asarray(pc.fill_null(pc.equal(text, name), False))] = code
    roadwork = pc.fill_null(pc.struct_field(opinions, "roadwork"), False)
    confidence = pc.fill_null(pc.struct_field(opinions, "confidence"), 0.0)
    return TierColumn(
        outcome,
        roadwork.to_numpy(zero_copy_only=False).astype(bool),
        confidence.to_numpy(zero_copy_only=False).astype(np.float64),
    )
