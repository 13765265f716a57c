"""Asked opinions (dense evaluation's, `--rerun`'s) in a namespace of their own, read back by the replay's
loader: they fill in only the tiers a verdict has no opinion of, matched by image, the newest winning."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from roadwatch.analytics import stored
from roadwatch.analytics.opinions import OpinionStore
from roadwatch.analytics.replay import ANSWERED, NO_OPINION, UNPARSEABLE
from schemas.evaluation import AskedOpinion, opinions_namespace
from tests.factories import T0
from tests.labelled_tables import labelled_verdict, new_label, open_tables, opinion, write_events

SHAS = [f"{i:064x}" for i in range(3)]


def asked(
    sha: str, tier: str, roadwork: bool, confidence: float, minutes: int, outcome: str = "answered"
) -> AskedOpinion:
    return AskedOpinion(
        opinion_id=str(uuid.uuid4()),
        run_id="r",
        asked_by="dense",
        image_sha256=sha,
        detector_score=0.3,
        truth=True,
        opinion=opinion(tier, roadwork, confidence, outcome),
        asked_at=T0 + timedelta(minutes=minutes),
    )


def test_asked_opinions_fill_in_what_the_verdict_lacks(tmp_path: Path) -> None:
    tables = open_tables(tmp_path)
    vs = [
        labelled_verdict(0, "cam", 0.3, [opinion("fast", True, 0.9)], True),
        labelled_verdict(1, "cam", 0.9, [], True),
        labelled_verdict(2, "cam", 0.1, [], False),
    ]
    write_events(tables, vs, SHAS, [new_label(v, s, v.roadwork, 1) for v, s in zip(vs, SHAS, strict=True)])
    store = OpinionStore.open(tables.catalog, tables.namespace, "dense")
    assert store.read().num_rows == 0  # nothing written yet: an empty table, nothing created
    store.append(
        [
            asked(SHAS[0], "fast", False, 0.2, 1),  # the verdict's own fast opinion wins
            asked(SHAS[0], "power", False, 0.8, 1),
            asked(SHAS[1], "fast", True, 0.6, 1),
            asked(SHAS[1], "fast", False, 0.0, 2, "unparseable"),  # newer: it wins
        ]
    )
    assert store.identifier == f"{opinions_namespace('roadwatch', 'dense')}.opinions"
    assert ("roadwatch", "opinions") not in tables.catalog.list_tables("roadwatch")

    plain = stored.load(tables, (0.15, 0.45))
    events = stored.load(tables, (0.15, 0.45), asked=[store.read()])
    order = sorted(range(3), key=lambda i: vs[i].event_id)  # the loader's rows are in event_id order

    def by_verdict(values: list[object]) -> list[object]:
        return [values[order.index(i)] for i in range(3)]

    assert plain.tiers["power"].outcome.tolist() == [NO_OPINION] * 3
    fast, power = events.tiers["fast"], events.tiers["power"]
    assert by_verdict(fast.outcome.tolist()) == [ANSWERED, UNPARSEABLE, NO_OPINION]
    assert by_verdict(fast.confidence.tolist())[0] == 0.9 and by_verdict(fast.roadwork.tolist())[0]
    assert by_verdict(power.outcome.tolist()) == [ANSWERED, NO_OPINION, NO_OPINION]
    assert by_verdict(power.confidence.tolist())[0] == 0.8
    assert events.truth.tolist() == plain.truth.tolist() and len(events) == 3
