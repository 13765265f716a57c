"""The demo's plan with a shadow detector beside production."""

import json
from pathlib import Path

from apps.plan import local_services, shadow_variant


def test_a_shadow_detector_runs_beside_production(tmp_path: Path) -> None:
    plain = local_services(tmp_path, tmp_path, None)
    with_shadow = local_services(tmp_path, tmp_path, None, shadow_model=Path("yolo11n-coco-int8.tflite"))
    (shadow,) = [s for s in with_shadow if s not in plain]
    assert [s for s in with_shadow if s is not shadow] == plain  # production's services as they were
    assert (shadow.name, shadow.args, shadow.ready_port) == (
        "detector-shadow",
        ["-m", "services.detector"],
        9131,
    )
    assert shadow.env["ROADWATCH_DETECTOR_SHADOW"] == "yolo11n-coco-int8"
    assert json.loads(shadow.env["ROADWATCH_DETECTOR_MODELS"]) == [{"path": "yolo11n-coco-int8.tflite"}]
    assert shadow.env["ROADWATCH_DETECTOR_SHADOW_METRICS_PORT"] == "9131"
    assert len({s.ready_port for s in with_shadow}) == len(with_shadow)


def test_a_variant_is_named_after_its_file() -> None:
    assert shadow_variant(Path("/m/my model+v2.onnx")) == "my-model-v2"
