"""`tune --apply`'s records: the global band as the default, each source's own, with provenance; what the
detector's BandBook makes of them."""

from __future__ import annotations

from datetime import UTC, datetime

from roadwatch.analytics.apply import applied_bands
from roadwatch.analytics.tune import Choice, Target
from roadwatch.kafka.codec import encode
from roadwatch.vision.scoring import DEFAULT_BAND, Band, BandBook
from schemas import DEFAULT_BAND_KEY
from services.detector.thresholds import _update_of

NOW = datetime(2026, 12, 2, 10, tzinfo=UTC)


def choice(low: float, high: float, n: int = 100) -> Choice:
    return Choice(low, high, n, {"escalation_rate": 0.05, "mcc": 0.9}, {"mcc": (0.8, 0.95)})


def test_the_default_and_each_found_source_band_carry_their_provenance() -> None:
    records = applied_bands(
        choice(0.2, 0.6),
        {"cam-a": choice(0.1, 0.5, 40), "cam-b": None},
        Target(max_escalation=0.1),
        drift=0.05,
        applied_by="alice",
        now=NOW,
    )
    assert [(r.source_id, r.scope, r.low, r.high) for r in records] == [
        (DEFAULT_BAND_KEY, "default", 0.2, 0.6),
        ("cam-a", "source", 0.1, 0.5),
    ]
    assert all(r.origin == "applied" and r.drift == 0.05 and r.updated_at == NOW for r in records)
    p = records[1].provenance
    assert p is not None and (p.chosen_by, p.applied_by, p.labelled_events) == ("roadwatch tune", "alice", 40)
    assert p.target == {"max_escalation": 0.1, "max_unknown": 0.0}
    assert p.predicted == {"escalation_rate": 0.05, "mcc": 0.9} and p.interval_95 == {"mcc": [0.8, 0.95]}
    assert len({r.event_id for r in records}) == 2


def test_the_detector_gives_a_new_source_the_applied_default() -> None:
    records = applied_bands(
        choice(0.2, 0.6), {"cam-a": choice(0.1, 0.5)}, Target(), drift=0.0, applied_by="a", now=NOW
    )
    book = BandBook(DEFAULT_BAND)
    for r in records:
        _update_of(r.source_id.encode(), encode(r)).to(book)
    assert book.for_source("never-seen") == Band(0.2, 0.6)
    assert book.for_source("cam-a") == Band(0.1, 0.5)
