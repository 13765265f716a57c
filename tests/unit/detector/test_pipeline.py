"""The detector's batch processor with a fake engine: decisions, outputs, and every bad-input case."""

import base64
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roadwatch.kafka.deadletter import RawRecord
from roadwatch.vision.engines.base import WholeImageEngine
from roadwatch.vision.scoring import Band, BandBook
from schemas import DeadLetter, Detection, DetectionResult, EscalationRequest, ImageEvent, ModelRef, Verdict
from services.detector.pipeline import DetectorPipeline
from services.detector.settings import DetectorSettings

NOW = datetime(2026, 11, 27, tzinfo=UTC)


class FakeEngine(WholeImageEngine):
    """Returns one cone whose confidence is the image's mean red value / 255."""

    ref = ModelRef(name="fake", version="1", weights_sha256="0" * 64)
    labels = {0: "traffic_cone"}

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return [
            [
                Detection(
                    label="traffic_cone",
                    class_id=0,
                    confidence=float(img[..., 0].mean() / 255),
                    x1=0,
                    y1=0,
                    x2=1,
                    y2=1,
                    model="fake",
                )
            ]
            for img in images
        ]


def jpeg(red: int, size: int = 32) -> bytes:
    arr = np.zeros((size, size, 3), np.uint8)
    arr[..., 0] = red
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=100)
    return buf.getvalue()


def event(data: bytes, *, uri: str | None = None, inline: bool = False, source: str = "cam-1") -> ImageEvent:
    return ImageEvent(
        event_id=f"e-{hashlib.md5(data).hexdigest()[:8]}-{source}",
        source_id=source,
        captured_at=NOW,
        image_uri=None if inline else uri,
        image_b64=base64.b64encode(data).decode() if inline else None,
        image_sha256=hashlib.sha256(data).hexdigest(),
        content_type="image/jpeg",
        width=32,
        height=32,
        size_bytes=len(data),
        produced_at=NOW,
    )


def record(value: bytes, offset: int = 0, key: bytes | None = None) -> RawRecord:
    """The record as a producer writes it: keyed by its source_id (`key` overrides)."""
    if key is None:
        try:
            key = ImageEvent.model_validate_json(value).source_id.encode()
        except ValueError:
            key = b"cam-1"
    return RawRecord("images.v1", 0, offset, key, value, 1_700_000_000_000)


@pytest.fixture
def pipeline(tmp_path: Path) -> DetectorPipeline:
    settings = DetectorSettings(
        max_pixels=100_000, allowed_http_hosts=["cams.example"], allowed_file_roots=[tmp_path]
    )
    book = BandBook(Band(0.2, 0.7))
    book.update("strict", Band(0.0, 0.99))
    return DetectorPipeline(settings, [FakeEngine()], book)


def run(pipeline: DetectorPipeline, *events: ImageEvent | bytes) -> list[tuple[str, object]]:
    batch = [
        record(e if isinstance(e, bytes) else e.model_dump_json().encode(), i) for i, e in enumerate(events)
    ]
    out = []
    types = {
        "detections.v1": DetectionResult,
        "verdicts.v1": Verdict,
        "escalations.fast.v1": EscalationRequest,
        "images.v1.dlq": DeadLetter,
    }
    for o in pipeline(batch):
        out.append((o.topic, types[o.topic].model_validate_json(o.value)))
    return out


def test_each_image_gets_a_detection_and_a_verdict_or_escalation(pipeline: DetectorPipeline) -> None:
    out = run(
        pipeline, event(jpeg(250), inline=True), event(jpeg(5), inline=True), event(jpeg(110), inline=True)
    )
    topics = [t for t, _ in out]
    assert topics == [
        "detections.v1",
        "verdicts.v1",
        "detections.v1",
        "verdicts.v1",
        "detections.v1",
        "escalations.fast.v1",
    ]
    assert out[1][1].roadwork is True and out[3][1].roadwork is False
    assert out[5][1].target_tier == "fast" and out[5][1].image_b64


def test_per_source_band_applies(pipeline: DetectorPipeline) -> None:
    out = run(pipeline, event(jpeg(250), inline=True, source="strict"))
    assert [t for t, _ in out] == ["detections.v1", "escalations.fast.v1"]
    assert out[0][1].band_high == 0.99


def test_file_reference_is_loaded(pipeline: DetectorPipeline, tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg(250))
    out = run(pipeline, event(path.read_bytes(), uri=path.as_uri()))
    assert out[1][1].roadwork is True


def _reason(out: list[tuple[str, object]]) -> str:
    assert len(out) == 1 and out[0][0] == "images.v1.dlq"
    letter = out[0][1]
    assert isinstance(letter, DeadLetter)
    assert (letter.source_topic, letter.partition, letter.offset) == ("images.v1", 0, 0)
    return letter.reason


def test_bad_inputs_become_dead_letters(pipeline: DetectorPipeline, tmp_path: Path) -> None:
    text = b"definitely not an image"
    (tmp_path / "x.jpg").write_bytes(text)
    big = jpeg(10, size=400)  # 160k pixels > 100k limit
    truncated = jpeg(10, size=256)[:300]
    cases = {
        "undecodable": b"{not json",
        "schema_invalid": json.dumps({"event_id": "x", "source_id": "cam-1"}).encode(),
        "not_an_image": event(text, uri=(tmp_path / "x.jpg").as_uri()),
        "too_many_pixels": event(big, inline=True),
        "truncated": event(truncated, inline=True),
        "uri_not_allowed": event(jpeg(1), uri="https://evil.example/a.jpg"),
        "unreachable": event(jpeg(1), uri=(tmp_path / "gone.jpg").as_uri()),
        "hash_mismatch": event(jpeg(1), inline=True).model_copy(update={"image_sha256": "f" * 64}),
    }
    for reason, bad in cases.items():
        assert _reason(run(pipeline, bad)) == reason, reason


def test_dead_letter_keeps_the_original_bytes_and_the_good_records_go_on(pipeline: DetectorPipeline) -> None:
    out = run(pipeline, b"\x00\x01garbage", event(jpeg(250), inline=True))
    letter = out[0][1]
    assert isinstance(letter, DeadLetter)
    assert base64.b64decode(letter.original_value_b64) == b"\x00\x01garbage"
    assert letter.event_id == "dlq:images.v1:0:0"
    assert [t for t, _ in out[1:]] == ["detections.v1", "verdicts.v1"]


def test_a_record_under_another_sources_key_is_a_dead_letter(pipeline: DetectorPipeline) -> None:
    value = event(jpeg(250), inline=True, source="adv-victim").model_dump_json().encode()
    (out,) = pipeline([record(value, key=b"adv-mal")])
    letter = DeadLetter.model_validate_json(out.value)
    assert (out.topic, letter.reason) == ("images.v1.dlq", "key_mismatch")


class ExplodingEngine(FakeEngine):
    """Raises on the dark images, as a model runtime might on an input it cannot take."""

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        if images[0][..., 0].mean() < 50:
            raise RuntimeError("runtime fell over")
        return super().detect(images)


def test_whatever_one_image_raises_is_its_dead_letter_and_the_batch_goes_on() -> None:
    pipeline = DetectorPipeline(DetectorSettings(), [ExplodingEngine()], BandBook(Band(0.2, 0.7)))
    out = run(pipeline, event(jpeg(5), inline=True), event(jpeg(250), inline=True))
    assert [t for t, _ in out] == ["images.v1.dlq", "detections.v1", "verdicts.v1"]
    letter = out[0][1]
    assert isinstance(letter, DeadLetter)
    assert letter.reason == "internal_error: RuntimeError" and "fell over" in letter.detail
