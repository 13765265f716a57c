"""Image-level labels read from a YOLO-format dataset."""

from pathlib import Path

import pytest

from roadwatch.errors import InvalidInputError
from roadwatch.labels.dataset import count_images, has_roadwork, read_dataset


@pytest.mark.parametrize(
    ("text", "classes", "expected"),
    [
        ("", None, False),  # an empty label file: a negative
        ("\n  \n", None, False),
        ("0 0.5 0.5 0.1 0.1\n", None, True),
        ("3 0.5 0.5 0.1 0.1\n", None, True),  # any class when none are named
        ("3 0.5 0.5 0.1 0.1\n", [0, 1], False),  # a box, but not of a roadwork class
        ("3 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n", [0, 1], True),
    ],
)
def test_an_image_is_roadwork_when_a_box_is_of_a_roadwork_class(
    text: str, classes: list[int] | None, expected: bool
) -> None:
    assert has_roadwork(text, classes) is expected


@pytest.mark.parametrize("line", ["cone 0.5 0.5 0.1 0.1", "0 0.5 0.5", "-1 0.5 0.5 0.1 0.1"])
def test_a_malformed_line_is_refused_with_where_it_is(line: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        has_roadwork(f"0 0.1 0.1 0.1 0.1\n{line}\n", None, "x.txt")
    assert caught.value.reason == "bad_label"
    assert "x.txt:2" in caught.value.detail


def make_dataset(root: Path, split: str, files: dict[str, str]) -> None:
    (root / "images" / split).mkdir(parents=True)
    (root / "labels" / split).mkdir(parents=True)
    for stem, text in files.items():
        (root / "images" / split / f"{stem}.jpg").write_bytes(stem.encode())
        (root / "labels" / split / f"{stem}.txt").write_text(text)


def test_every_split_is_read_with_hashes_and_references(tmp_path: Path) -> None:
    make_dataset(tmp_path, "train", {"a": "0 0.5 0.5 0.1 0.1\n"})
    make_dataset(tmp_path, "val", {"b": "", "c": "0 0.5 0.5 0.1 0.1\n"})
    seen: list[int] = []
    images = read_dataset(tmp_path, progress=seen.append)
    assert [(i.reference, i.roadwork) for i in images] == [
        ("images/train/a.jpg", True),
        ("images/val/b.jpg", False),
        ("images/val/c.jpg", True),
    ]
    assert (
        images[1].sha256 == "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
    )  # sha256(b"b")
    assert len(seen) == count_images(tmp_path) == 3
    assert [i.reference for i in read_dataset(tmp_path, "val")] == ["images/val/b.jpg", "images/val/c.jpg"]


def test_a_missing_split_or_label_file_is_an_error(tmp_path: Path) -> None:
    make_dataset(tmp_path, "val", {"b": ""})
    with pytest.raises(InvalidInputError, match="no images/test folder"):
        read_dataset(tmp_path, "test")
    (tmp_path / "labels" / "val" / "b.txt").unlink()
    with pytest.raises(InvalidInputError) as caught:
        read_dataset(tmp_path)
    assert caught.value.reason == "no_label"


def test_the_tracon_val_split_has_negatives_and_positives(shared_dir: Path) -> None:
    images = read_dataset(shared_dir / "datasets" / "tracon", "val")
    assert len(images) == 100
    assert 20 < sum(i.roadwork for i in images) < 80
