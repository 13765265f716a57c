"""The real tiers behind `replay --rerun` (`roadwatch.analytics.rerun.Asker`): each stored event becomes the
escalation its tier would have got (its stored image reference, detector score and boxes, and the opinions
of the tiers below: the verdict's, else the newest asked one of its image), goes through the tier's own
pipeline (`apps.evaluation.asking`), and the answers are written to the rerun store, never to production."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from apps.evaluation.asking import Tiers, ask
from roadwatch.analytics.opinions import OpinionStore
from roadwatch.analytics.tables import Tables
from schemas import Detection, EscalationRequest, TierOpinion
from schemas.evaluation import AskedOpinion
from schemas.records import VLM_TIERS, VlmTier

DETECTION_COLUMNS = ("event_id", "source_id", "captured_at", "image_uri", "image_sha256", "detections")


class TierAsker:
    """Asks the tiers' pipelines about stored events and stores their opinions in `store`; `asked()` gives
    the tables of asked opinions the replay reads (the store's among them), for the lower tiers' opinions."""

    def __init__(
        self,
        tables: Tables,
        pipelines: Tiers,
        store: OpinionStore,
        asked: Callable[[], list[pa.Table]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._tables, self._pipelines, self._store, self._asked = tables, pipelines, store, asked
        self._progress = progress
        self.run_id = str(uuid.uuid4())
        self.missing = Counter[str]()  # why asked events got no opinion: a dead letter's reason, a refusal

    def __call__(self, tier: VlmTier, rows: pa.Table) -> int:
        ids = rows.column("event_id").to_pylist()
        detections = _first_per_event(
            self._tables.read("detections", event_ids=ids, columns=DETECTION_COLUMNS)
        )
        below = self._below(tier, rows)
        reqs = [
            _request(tier, event["score"], d, below.get(event["event_id"], {}))
            for event in rows.to_pylist()
            if (d := detections.get(event["event_id"])) is not None
        ]
        replies = ask(self._pipelines[tier], reqs, self._progress)
        self.missing.update(r.missing.partition(":")[0] for r in replies if r.missing is not None)
        now = datetime.now(UTC)
        answers = [
            AskedOpinion(
                opinion_id=str(uuid.uuid4()),
                run_id=self.run_id,
                asked_by="rerun",
                image_sha256=req.image_sha256,
                event_id=req.event_id,
                source_id=req.source_id,
                reference=req.image_uri,
                detector_score=req.detector_score,
                opinion=reply.opinion,
                asked_at=now,
            )
            for req, reply in zip(reqs, replies, strict=True)
            if reply.opinion is not None
        ]
        self._store.append(answers)
        return len(answers)

    def _below(self, tier: VlmTier, rows: pa.Table) -> dict[str, dict[str, TierOpinion]]:
        """Per event, the opinion of each tier below `tier` the replay used: its newest verdict's first
        opinion of that tier, else the newest asked opinion of its image."""
        lower = VLM_TIERS[: VLM_TIERS.index(tier)]
        if not lower:
            return {}
        ids = rows.column("event_id").to_pylist()
        verdicts = self._tables.read(
            "verdicts", event_ids=ids, columns=("event_id", "opinions", "decided_at")
        )
        out: dict[str, dict[str, TierOpinion]] = {}
        for v in verdicts.sort_by([("decided_at", "descending")]).to_pylist():
            if v["event_id"] not in out:
                firsts: dict[str, TierOpinion] = {}
                for o in v["opinions"]:
                    if o["tier"] in lower:
                        firsts.setdefault(o["tier"], _opinion(o))
                out[v["event_id"]] = firsts
        asked = pa.concat_tables(self._asked(), promote_options="permissive")
        newest: dict[tuple[str, str], TierOpinion] = {}
        for a in asked.sort_by([("asked_at", "descending"), ("opinion_id", "descending")]).to_pylist():
            newest.setdefault((a["image_sha256"], a["tier"]), _opinion(a))
        for event_id, sha in zip(ids, rows.column("image_sha256").to_pylist(), strict=True):
            mine = out.setdefault(event_id, {})
            for t in lower:
                if t not in mine and (found := newest.get((sha, t))) is not None:
                    mine[t] = found
        return out


def _first_per_event(table: pa.Table) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist():
        out.setdefault(row["event_id"], row)
    return out


def _opinion(row: dict[str, Any]) -> TierOpinion:
    return TierOpinion.model_validate({k: row[k] for k in TierOpinion.model_fields})


def _request(
    tier: VlmTier, score: float, detection: dict[str, Any], below: dict[str, TierOpinion]
) -> EscalationRequest:
    return EscalationRequest(
        event_id=detection["event_id"],
        source_id=detection["source_id"],
        captured_at=detection["captured_at"],
        image_uri=detection["image_uri"],
        image_sha256=detection["image_sha256"],
        target_tier=tier,
        detector_score=score,
        detections=[
            Detection.model_validate({k: d[k] for k in Detection.model_fields})
            for d in detection["detections"]
        ],
        opinions=[below[t] for t in VLM_TIERS[: VLM_TIERS.index(tier)] if t in below],
        requested_at=datetime.now(UTC),
    )
