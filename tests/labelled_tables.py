"""Tables with labels for the tests of quality and replay: events whose verdicts, detections and labels are
written through the sink's own writer (a real SQLite catalog)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from roadwatch.analytics.tables import Tables
from roadwatch.iceberg.catalog import ensure_tables, open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from schemas import Label, TierOpinion, Verdict
from tests.console_tables import write
from tests.factories import T0, detection_result, verdict


def opinion(tier: str, roadwork: bool, confidence: float, outcome: str = "answered") -> TierOpinion:
    return TierOpinion(
        tier=tier,  # type: ignore[arg-type]
        backend="local",
        model="m",
        prompt_version="v1",
        outcome=outcome,  # type: ignore[arg-type]
        roadwork=roadwork if outcome == "answered" else None,
        confidence=confidence,
        latency_ms=10.0,
    )


def labelled_verdict(
    i: int, source: str, score: float, opinions: list[TierOpinion], roadwork: bool
) -> Verdict:
    decided_by = opinions[-1].tier if opinions else "detector"
    return verdict(
        i,
        source=source,
        roadwork=roadwork,
        decided_by=decided_by,
        tier_path=["detector", *[o.tier for o in opinions]],
        opinions=opinions,
        detector_score=score,
    )


def new_label(v: Verdict, sha: str, roadwork: bool, minutes: int, origin: str = "dataset") -> Label:
    return Label(
        event_id=v.event_id,
        source_id=v.source_id,
        captured_at=v.captured_at,
        label_id=str(uuid.uuid4()),
        image_sha256=sha,
        roadwork=roadwork,
        origin=origin,  # type: ignore[arg-type]
        labelled_by="test",
        labelled_at=T0 + timedelta(minutes=minutes),
    )


def open_tables(warehouse: Path) -> Tables:
    settings = CatalogSettings(warehouse=str(warehouse))
    ensure_tables(open_catalog(settings), settings.namespace)
    return Tables.open(settings)


def write_events(tables: Tables, verdicts: list[Verdict], shas: list[str], labels: list[Label]) -> None:
    """`verdicts[i]`'s image is `shas[i]`; its detection has the verdict's detector score."""
    detections = []
    for i, (v, sha) in enumerate(zip(verdicts, shas, strict=True)):
        d = detection_result(i, source=v.source_id, event_id=v.event_id)
        decision = "escalate" if v.opinions else ("roadwork" if v.roadwork else "clear")
        detections.append(
            d.model_copy(
                update={"image_sha256": sha, "roadwork_score": v.detector_score, "decision": decision}
            )
        )
    write(tables, "verdicts", list(verdicts))
    write(tables, "detections", detections)
    if labels:
        write(tables, "labels", list(labels))
