import io
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image

from apps.cli import main
from roadwatch.producer.api import produce
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import ImageEvent
from schemas.export import JSON_DIR
from tests.helpers import consume_all

pytestmark = pytest.mark.integration


def test_vtti_folder_lands_as_valid_image_events(
    kafka: KafkaSettings, topic_factory, consumer_factory, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = topic_factory("images")
    monkeypatch.setenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("ROADWATCH_PRODUCER_TOPIC", topic)
    assert main(["produce", str(shared_dir / "datasets" / "vtti-workzone"), "--source", "cam-1"]) == 0

    msgs = consume_all(consumer_factory(topic), 32, settle_s=1.0)
    schema = json.loads((JSON_DIR / "ImageEvent.v1.schema.json").read_text())
    assert len(msgs) == 32
    events = []
    for m in msgs:
        assert m.key() == b"cam-1"
        jsonschema.validate(json.loads(m.value()), schema)
        events.append(ImageEvent.model_validate_json(m.value()))
    assert len({e.event_id for e in events}) == 32
    assert all((e.image_uri or "").startswith("file://") and e.image_b64 is None for e in events)
    assert sum(e.width == 752 and e.height == 480 for e in events) == 26  # the dashcam frames
    assert len({m.partition() for m in msgs}) == 1  # one key, one partition, order kept


def _jpeg(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def test_bad_inputs_are_reported_and_the_rest_is_sent(
    kafka: KafkaSettings, topic_factory, consumer_factory, tmp_path: Path
) -> None:
    topic = topic_factory("images")
    good = tmp_path / "good.jpg"
    good.write_bytes(_jpeg(64, 64))
    (tmp_path / "text.jpg").write_text("not an image at all")
    (tmp_path / "truncated.jpg").write_bytes(_jpeg(64, 64)[:-100])
    (tmp_path / "huge.jpg").write_bytes(_jpeg(3000, 3000))
    inputs = [str(tmp_path / n) for n in ("good.jpg", "text.jpg", "truncated.jpg", "huge.jpg", "missing.jpg")]
    inputs.append("https://not-allowed.example/cam.jpg")

    settings = ProducerSettings(topic=topic, max_pixels=4_000_000, inline_max_bytes=0)
    report = produce(inputs, "cam-9", kafka=kafka, settings=settings)

    reasons = {Path(f.uri).name: f.reason for f in report.failures}
    assert reasons == {
        "text.jpg": "not_an_image",
        "truncated.jpg": "truncated",
        "huge.jpg": "too_many_pixels",
        "missing.jpg": "unreachable",
        "cam.jpg": "uri_not_allowed",
    }
    assert report.sent == 1 and not report.ok
    msgs = consume_all(consumer_factory(topic), 1, settle_s=1.0)
    assert [ImageEvent.model_validate_json(m.value()).image_uri for m in msgs] == [good.as_uri()]


def test_small_images_travel_inline(
    kafka: KafkaSettings, topic_factory, consumer_factory, tmp_path: Path
) -> None:
    topic = topic_factory("images")
    (tmp_path / "small.jpg").write_bytes(_jpeg(32, 32))
    report = produce(
        [str(tmp_path)],
        "cam-2",
        kafka=kafka,
        settings=ProducerSettings(topic=topic, inline_max_bytes=100_000),
    )
    assert report.sent == 1
    event = ImageEvent.model_validate_json(consume_all(consumer_factory(topic), 1)[0].value())
    assert event.image_uri is None and event.image_b64


def test_cli_exit_code_says_whether_any_failed(
    kafka: KafkaSettings, topic_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("ROADWATCH_PRODUCER_TOPIC", topic_factory("images"))
    (tmp_path / "bad.jpg").write_text("nope")
    assert main(["produce", str(tmp_path / "bad.jpg"), "--source", "cam-3"]) == 1
