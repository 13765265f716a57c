"""Hard-example selection: the `--where` language, each event's flags, images grouped with their truth,
boxes as YOLO lines, stable splits, and `select` over stored tables (a real catalog)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from roadwatch.analytics.export import (
    Event,
    Truth,
    class_names,
    examples,
    parse_where,
    select,
    split_of,
    yolo_lines,
)
from roadwatch.errors import ConfigError
from tests.factories import T0
from tests.labelled_tables import labelled_verdict, new_label, open_tables, opinion, write_events

SHAS = [f"{i:064x}" for i in range(6)]


def box(label: str = "cone", class_id: int = 0, x1: float = 0.1, x2: float = 0.3) -> dict[str, Any]:
    return {"label": label, "class_id": class_id, "confidence": 0.8, "x1": x1, "y1": 0.2, "x2": x2, "y2": 0.6}


def answered(roadwork: bool, outcome: str = "answered") -> dict[str, Any]:
    return {"tier": "fast", "outcome": outcome, "roadwork": roadwork if outcome == "answered" else None}


def event(i: int = 0, **kw: Any) -> Event:
    base = Event(
        event_id=f"e{i}",
        source_id="cam-1",
        captured_at=T0,
        decided_at=T0 + timedelta(seconds=i),
        image_uri=f"file:///img/{i}.jpg",
        image_sha256=SHAS[i],
        verdict=True,
        decided_by="detector",
        tier_path=("detector",),
        degraded=False,
        degraded_reason=None,
        detector_score=0.9,
        band=(0.15, 0.45),
        detection_escalated=False,
        opinions=(),
        boxes=(box(),),
        models=("cone@1",),
        label=None,
    )
    return replace(base, **kw)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("escalated", "escalated"),
        ("escalated,degraded", "escalated,degraded"),
        ("label-disagreed+escalated, degraded", "escalated+label-disagreed,degraded"),
    ],
)
def test_where_reads_alternatives_of_filters(text: str, shown: str) -> None:
    assert str(parse_where(text)) == shown


@pytest.mark.parametrize("text", ["", "escalated,", "escalated+sad", "Escalated"])
def test_an_unknown_filter_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="unknown filter"):
        parse_where(text)


def test_where_matches_any_alternative_whose_every_filter_holds() -> None:
    where = parse_where("escalated+label-disagreed,degraded")
    assert where.matches(frozenset({"degraded"}))
    assert where.matches(frozenset({"escalated", "label-disagreed", "tier-disagreed"}))
    assert not where.matches(frozenset({"escalated", "tier-disagreed"}))


@pytest.mark.parametrize(
    ("changes", "flags"),
    [
        ({}, set()),
        ({"detection_escalated": True}, {"escalated"}),
        ({"detector_score": 0.35, "opinions": (answered(True),)}, {"escalated"}),  # lean: 0.35 >= 0.30
        ({"detector_score": 0.25, "opinions": (answered(True),)}, {"escalated", "tier-disagreed"}),
        (
            {"detector_score": 0.25, "opinions": (answered(False), answered(True))},
            {"escalated", "tier-disagreed"},
        ),
        ({"detector_score": 0.25, "opinions": (answered(True, "unparseable"),)}, {"escalated"}),
        ({"detector_score": 0.5, "band": (0.4, 0.8), "opinions": (answered(False),)}, {"escalated"}),
        (
            {"detector_score": 0.31, "band": None, "opinions": (answered(False),)},
            {"escalated", "tier-disagreed"},
        ),
        ({"degraded": True, "degraded_reason": "fast: open"}, {"degraded"}),
        ({"label": Truth(False, "human", "ana", "l1")}, {"label-disagreed"}),
        ({"label": Truth(True, "dataset", "ci", "l1")}, set()),
    ],
)
def test_the_flags_of_an_event(changes: dict[str, Any], flags: set[str]) -> None:
    assert event(**changes).flags == flags


def test_images_are_grouped_newest_event_first_with_their_truth() -> None:
    events = [
        event(0, detection_escalated=True),
        event(1, detection_escalated=True, image_sha256=SHAS[0], source_id="cam-2", verdict=False),
        event(2, detection_escalated=True, label=Truth(False, "human", "ana", "l2")),
        event(3),  # not escalated
    ]
    chosen = examples(events, parse_where("escalated"))
    assert [[e.event_id for e in x.events] for x in chosen] == [["e1", "e0"], ["e2"]]
    newest_verdict, labelled = chosen
    assert newest_verdict.truth == Truth(False, "verdict", "detector")  # e1's verdict, the newest
    assert newest_verdict.boxes == ()
    assert labelled.truth.origin == "human" and not labelled.truth.roadwork
    assert labelled.boxes == ()  # the detector's box on a clear image is a false positive: not a label
    kept = examples(
        [event(4, detection_escalated=True, label=Truth(True, "human", "ana", "l4"))],
        parse_where("escalated"),
    )
    assert kept[0].boxes == (box(),)


def test_the_first_stored_uri_of_an_image_is_fetched() -> None:
    inline = event(1, detection_escalated=True, image_sha256=SHAS[0], image_uri=None)
    (example,) = examples([event(0, detection_escalated=True), inline], parse_where("escalated"))
    assert example.newest.event_id == "e1"
    assert example.image_uri == "file:///img/0.jpg"


def test_classes_follow_the_detector_ids_and_lines_are_centre_and_size() -> None:
    chosen = examples(
        [
            event(0, detection_escalated=True, boxes=(box("worker", 5), box("cone", 0))),
            event(1, detection_escalated=True, boxes=(box("barrier", 2), box("worker", 5))),
        ],
        parse_where("escalated"),
    )
    names = class_names(chosen)
    assert names == ["cone", "barrier", "worker"]
    assert yolo_lines([box("worker", 5, x1=0.2, x2=0.6)], names) == ["2 0.400000 0.400000 0.400000 0.400000"]


def test_splits_are_stable_and_near_the_fraction() -> None:
    shas = [f"{i:064x}" for i in range(2000)]
    assert {split_of(s, 0.0) for s in shas} == {"train"}
    assert {split_of(s, 1.0) for s in shas} == {"val"}
    val = sum(split_of(s, 0.2) == "val" for s in shas)
    assert 300 < val < 500
    assert [split_of(s, 0.2) for s in shas] == [split_of(s, 0.2) for s in shas]


def test_select_reads_the_stored_events(tmp_path: Path) -> None:
    tables = open_tables(tmp_path)
    vs = [
        labelled_verdict(0, "cam-0", 0.9, [], True),  # decided by the detector
        labelled_verdict(1, "cam-0", 0.25, [opinion("fast", True, 0.9)], True),  # tier-disagreed
        labelled_verdict(2, "cam-1", 0.35, [opinion("fast", True, 0.9)], True),  # label-disagreed
        labelled_verdict(3, "cam-1", 0.05, [], False),
        labelled_verdict(4, "cam-1", 0.3, [opinion("fast", False, 0.3, "failed")], False),
    ]
    vs[4] = vs[4].model_copy(update={"degraded": True, "degraded_reason": "fast: failed"})
    labels = [new_label(vs[2], SHAS[2], False, 1), new_label(vs[2], SHAS[2], True, 0, origin="human")]
    write_events(tables, vs, SHAS[:5], labels)

    def chosen(where: str, **kw: Any) -> list[str]:
        return [x.image_sha256 for x in select(tables, parse_where(where), **kw)]

    assert chosen("escalated") == [*SHAS[1:3], SHAS[4]]
    assert chosen("tier-disagreed") == [SHAS[1]]
    assert chosen("label-disagreed") == [SHAS[2]]  # the newest label (dataset, clear) against roadwork
    assert chosen("degraded,tier-disagreed") == [SHAS[1], SHAS[4]]
    assert chosen("escalated+degraded") == [SHAS[4]]
    assert chosen("escalated", source="cam-0") == [SHAS[1]]
    assert chosen("escalated", since=T0 + timedelta(seconds=2)) == [SHAS[2], SHAS[4]]
    (labelled,) = select(tables, parse_where("label-disagreed"))
    assert labelled.truth.origin == "dataset" and not labelled.truth.roadwork
    assert labelled.newest.models == ("cone@1",) and labelled.newest.boxes[0]["label"] == "traffic_cone"
