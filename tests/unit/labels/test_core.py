"""Labels built from the stored events: dataset matches by sha256, one person's label."""

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from roadwatch.errors import InvalidInputError
from roadwatch.labels.core import StoredImage, label, match, roadwork_of
from roadwatch.labels.dataset import DatasetImage

NOW = datetime(2026, 12, 1, tzinfo=UTC)
A, B, C = "a" * 64, "b" * 64, "c" * 64


def stored(event_id: str, sha: str, source: str = "cam-1") -> StoredImage:
    return StoredImage(event_id, source, NOW, sha)


def test_every_event_showing_a_dataset_image_gets_its_label() -> None:
    images = [
        DatasetImage(Path("a.jpg"), A, True, "images/val/a.jpg"),
        DatasetImage(Path("b.jpg"), B, False, "images/val/b.jpg"),
        DatasetImage(Path("c.jpg"), C, True, "images/val/c.jpg"),
    ]
    by_sha = {A: [stored("e1", A), stored("e2", A, "cam-2")], B: [stored("e3", B)]}
    ids = (f"l{i}" for i in itertools.count())
    got = match(images, by_sha, labelled_by="ci", now=NOW, new_id=lambda: next(ids))
    assert [(lab.event_id, lab.source_id, lab.roadwork, lab.label_id) for lab in got.labels] == [
        ("e1", "cam-1", True, "l0"),
        ("e2", "cam-2", True, "l1"),
        ("e3", "cam-1", False, "l2"),
    ]
    assert {lab.origin for lab in got.labels} == {"dataset"}
    assert got.labels[0].reference == "images/val/a.jpg"
    assert [i.sha256 for i in got.unmatched] == [C]


def test_a_person_labels_one_event() -> None:
    made = label(
        stored("e1", A), roadwork_of("clear"), origin="human", labelled_by="ana", now=NOW, label_id="x"
    )
    assert (made.event_id, made.image_sha256, made.roadwork, made.origin, made.labelled_by) == (
        "e1",
        A,
        False,
        "human",
        "ana",
    )


def test_a_label_word_is_roadwork_or_clear() -> None:
    assert roadwork_of("roadwork") is True
    with pytest.raises(InvalidInputError, match="`roadwork` or `clear`"):
        roadwork_of("yes")
