"""A shadow detector: variant-tagged detections on its own topic, in its own group, and nothing else."""

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from roadwatch.vision.scoring import Band, BandBook
from schemas import DetectionResult
from services.detector.pipeline import DetectorPipeline
from services.detector.settings import DetectorSettings
from tests.unit.detector.test_pipeline import FakeEngine, event, jpeg, record, run


def shadow(tmp_path: Path, **kw: object) -> DetectorPipeline:
    settings = DetectorSettings(shadow="coco", allowed_file_roots=[tmp_path], **kw)  # type: ignore[arg-type]
    return DetectorPipeline(settings, [FakeEngine()], BandBook(Band(0.2, 0.7)))


def skipped(reason: str) -> float:
    return REGISTRY.get_sample_value("roadwatch_detector_shadow_skipped_total", {"reason": reason}) or 0.0


def test_a_shadow_writes_only_tagged_detections(tmp_path: Path) -> None:
    images = [event(jpeg(red), inline=True) for red in (250, 5, 110)]  # roadwork, clear, escalate
    outputs = shadow(tmp_path)([record(e.model_dump_json().encode(), i) for i, e in enumerate(images)])
    assert [o.topic for o in outputs] == ["detections.shadow.v1"] * 3
    results = [DetectionResult.model_validate_json(o.value) for o in outputs]
    assert [r.variant for r in results] == ["coco"] * 3
    assert [r.decision for r in results] == ["roadwork", "clear", "escalate"]
    assert [r.event_id for r in results] == [e.event_id for e in images]
    assert [o.key for o in outputs] == [b"cam-1"] * 3


def test_production_is_untagged(tmp_path: Path) -> None:
    settings = DetectorSettings(allowed_file_roots=[tmp_path])
    out = run(
        DetectorPipeline(settings, [FakeEngine()], BandBook(Band(0.2, 0.7))), event(jpeg(250), inline=True)
    )
    assert [t for t, _ in out] == ["detections.v1", "verdicts.v1"]
    assert isinstance(out[0][1], DetectionResult) and out[0][1].variant is None


def test_a_record_a_shadow_cannot_read_is_counted_not_dead_lettered(tmp_path: Path) -> None:
    before = skipped("undecodable"), skipped("unreachable")
    gone = event(jpeg(1), uri=(tmp_path / "gone.jpg").as_uri())
    outputs = shadow(tmp_path)([record(b"{not json"), record(gone.model_dump_json().encode(), 1)])
    assert outputs == []
    assert (skipped("undecodable"), skipped("unreachable")) == (before[0] + 1, before[1] + 1)


def test_a_shadow_has_its_own_group_and_port() -> None:
    production = DetectorSettings(group_id="g")
    variant = DetectorSettings(group_id="g", shadow="coco")
    assert (production.group, variant.group) == ("g", "g-shadow-coco")
    assert (production.serving_port, variant.serving_port) == (9101, 9131)
    assert DetectorSettings(shadow="coco", shadow_metrics_port=0).serving_port == 0


@pytest.mark.parametrize("name", ["", "a:b", "has space", "x" * 65])
def test_a_variant_name_is_checked(name: str) -> None:
    with pytest.raises(ValidationError):
        DetectorSettings(shadow=name)
