import pytest

from roadwatch.vision.scoring import Band, BandBook, roadwork_score
from schemas import Detection


def box(label: str, conf: float) -> Detection:
    return Detection(label=label, class_id=0, confidence=conf, x1=0.1, y1=0.1, x2=0.2, y2=0.2, model="m")


def test_no_evidence_scores_zero() -> None:
    assert roadwork_score([]) == 0.0
    assert roadwork_score([box("car", 0.99), box("bicycle", 0.9)]) == 0.0


def test_more_boxes_of_one_kind_do_not_add_up() -> None:
    assert roadwork_score([box("traffic_cone", 0.6)] * 5) == pytest.approx(0.6)


def test_kinds_combine_by_noisy_or() -> None:
    score = roadwork_score([box("traffic_cone", 0.5), box("worker", 0.5)])
    assert score == pytest.approx(1 - (1 - 0.5) * (1 - 0.8 * 0.5))


def test_coco_labels_are_weak_evidence() -> None:
    assert roadwork_score([box("person", 0.9)]) == pytest.approx(0.27)
    assert roadwork_score([box("Stop Sign", 1.0)]) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("score", "decision"),
    [
        (0.0, "clear"),
        (0.149, "clear"),
        (0.15, "escalate"),
        (0.449, "escalate"),
        (0.45, "roadwork"),
        (1.0, "roadwork"),
    ],
)
def test_band_decides(score: float, decision: str) -> None:
    assert Band(0.15, 0.45).decide(score) == decision


def test_band_rejects_inverted_bounds() -> None:
    with pytest.raises(ValueError):
        Band(0.6, 0.4)


def test_per_source_bands_override_and_tombstones_reset() -> None:
    book = BandBook(Band(0.2, 0.6))
    book.update("cam-1", Band(0.1, 0.9))
    assert book.for_source("cam-1") == Band(0.1, 0.9)
    assert book.for_source("cam-2") == Band(0.2, 0.6)
    book.update("cam-1", None)
    assert book.for_source("cam-1") == Band(0.2, 0.6)
