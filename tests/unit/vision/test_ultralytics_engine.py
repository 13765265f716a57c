"""The Ultralytics engine on the shared models, built by the factory: the COCO YOLO11n TFLite export and the
cone model as ONNX. No broker; needs the `ultralytics` extra (torch): `make test-engines`.

The shared cone ONNX is a YOLOv5 export (`[1, 25200, 6]`, with objectness), a layout Ultralytics 8 decodes
into garbage without an error; the engine refuses it, and the ONNX path runs on a copy whose last three ops
turn the same network's output into the v8 layout (`[1, 5, 25200]`, score = objectness x class).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roadwatch.errors import ConfigError
from roadwatch.vision.engines.factory import build_engine
from roadwatch.vision.engines.litert_yolo import LiteRtYoloEngine, read_metadata
from roadwatch.vision.engines.onnx_yolo import OnnxYoloEngine
from roadwatch.vision.engines.ultralytics_engine import UltralyticsEngine
from roadwatch.vision.models import COCO_MODEL_FILE, CONE_MODEL_FILE, ModelSpec
from schemas import Detection

pytestmark = pytest.mark.ultralytics
if importlib.util.find_spec("ultralytics") is None:
    pytest.skip(
        "needs the [ultralytics] extra: ROADWATCH_WITH_ULTRALYTICS=1 ./scripts/setup.sh (make test-engines)",
        allow_module_level=True,
    )

WORK_ZONE = "datasets/vtti-workzone/OS_4.jpg.jpg"  # a truck and a cyclist behind a line of cones
TRUCK_CENTRE = (0.53, 0.26)  # of the truck in that photo, read off the image
CONES = "datasets/tracon/images/val/cone (100).jpg"  # ten labelled cones


@pytest.fixture(scope="module", autouse=True)
def offline_ultralytics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Ultralytics reads these at import: no hub, settings in a writable folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YOLO_OFFLINE", "1")
        mp.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("yolo-config")))
        yield


@pytest.fixture(scope="module")
def models_dir(shared_dir: Path) -> Path:
    return shared_dir / "models"


def rgb(shared_dir: Path, relative: str) -> np.ndarray:
    with Image.open(shared_dir / relative) as im:
        return np.asarray(im.convert("RGB"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def iou(a: Detection, b: Detection) -> float:
    w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = w * h
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union


def labelled_cones(shared_dir: Path, image: str) -> list[Detection]:
    """The YOLO-format label file of a TraCon image (`class cx cy w h`, normalised) as boxes."""
    labels = (shared_dir / image.replace("/images/", "/labels/")).with_suffix(".txt")
    boxes = []
    for line in labels.read_text().splitlines():
        if line.strip():
            cx, cy, w, h = (float(v) for v in line.split()[1:])
            x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
            boxes.append(
                Detection(
                    label="traffic_cone", class_id=0, confidence=1.0, x1=x1, y1=y1, x2=x2, y2=y2, model="gt"
                )
            )
    return boxes


def assert_canonical(dets: list[Detection], engine: UltralyticsEngine) -> None:
    """Labels come from the model's own names; boxes are normalised and non-empty."""
    for d in dets:
        assert d.label == engine.labels[d.class_id]
        assert d.model == engine.ref.name
        assert 0.0 <= d.x1 < d.x2 <= 1.0
        assert 0.0 <= d.y1 < d.y2 <= 1.0
        assert 0.25 <= d.confidence <= 1.0


def v8_layout_copy(src: Path, dst: Path) -> Path:
    """The YOLOv5 export with `[1, N, 5 + nc]` turned into `[1, 4 + nc, N]` (score = objectness x class)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    graph = model.graph
    name = graph.output[0].name
    _, n, width = (d.dim_value for d in graph.output[0].type.tensor_type.shape.dim)
    raw = f"{name}_v5"
    for node in graph.node:
        node.output[:] = [raw if o == name else o for o in node.output]

    def ints(key: str, *values: int) -> str:
        graph.initializer.append(helper.make_tensor(key, TensorProto.INT64, [len(values)], values))
        return key

    axis = ints("v8_axis", 2)
    graph.node.extend(
        [
            helper.make_node("Slice", [raw, ints("v8_0", 0), ints("v8_4", 4), axis], ["v8_box"]),
            helper.make_node("Slice", [raw, "v8_4", ints("v8_5", 5), axis], ["v8_obj"]),
            helper.make_node("Slice", [raw, "v8_5", ints("v8_end", width), axis], ["v8_cls"]),
            helper.make_node("Mul", ["v8_obj", "v8_cls"], ["v8_score"]),
            helper.make_node("Concat", ["v8_box", "v8_score"], ["v8_rows"], axis=2),
            helper.make_node("Transpose", ["v8_rows"], [name], perm=[0, 2, 1]),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, width - 1, n]))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst


@pytest.fixture(scope="module")
def coco(models_dir: Path) -> UltralyticsEngine:
    engine = build_engine(ModelSpec(path=COCO_MODEL_FILE, engine="ultralytics", conf=0.25), models_dir)
    assert isinstance(engine, UltralyticsEngine)
    return engine


@pytest.fixture(scope="module")
def cone_v8(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return v8_layout_copy(models_dir / CONE_MODEL_FILE, tmp_path_factory.mktemp("onnx") / "cone-v8.onnx")


def test_tflite_model_names_and_hash(coco: UltralyticsEngine, models_dir: Path) -> None:
    weights = models_dir / COCO_MODEL_FILE
    names = read_metadata(weights)["names"]
    assert isinstance(names, dict)
    assert coco.labels == {int(k): str(v) for k, v in names.items()}
    assert (len(coco.labels), coco.labels[0], coco.labels[7]) == (80, "person", "truck")
    assert re.fullmatch(r"[0-9a-f]{64}", coco.ref.weights_sha256)
    assert coco.ref.weights_sha256 == sha256_of(weights)
    assert coco.ref.name == "yolo11n-coco-int8"
    assert coco.ref.version.startswith("ultralytics-8.")


def test_tflite_model_finds_the_truck_in_a_work_zone(
    coco: UltralyticsEngine, shared_dir: Path, models_dir: Path
) -> None:
    image = rgb(shared_dir, WORK_ZONE)
    empty = np.zeros((240, 320, 3), np.uint8)
    dets, on_black = coco.detect([image, empty])
    assert on_black == []
    assert_canonical(dets, coco)
    trucks = [d for d in dets if d.label == "truck"]
    assert len(trucks) == 1
    truck = trucks[0]
    x, y = TRUCK_CENTRE
    assert truck.x1 < x < truck.x2 and truck.y1 < y < truck.y2
    assert truck.confidence > 0.5
    assert "person" in {d.label for d in dets}
    # the same file through the torch-free LiteRT engine gives the same truck
    (litert_truck,) = [
        d for d in LiteRtYoloEngine(models_dir / COCO_MODEL_FILE).detect([image])[0] if d.label == "truck"
    ]
    assert iou(truck, litert_truck) > 0.9
    assert truck.confidence == pytest.approx(litert_truck.confidence, abs=0.05)


def test_onnx_cone_model_finds_the_labelled_cones(cone_v8: Path, shared_dir: Path, models_dir: Path) -> None:
    engine = build_engine(ModelSpec(path=str(cone_v8), engine="ultralytics", conf=0.25), models_dir)
    assert isinstance(engine, UltralyticsEngine)
    assert engine.labels == {0: "traffic_cone"}
    assert engine.ref.weights_sha256 == sha256_of(cone_v8)
    image = rgb(shared_dir, CONES)
    (dets,) = engine.detect([image])
    assert_canonical(dets, engine)
    truth = labelled_cones(shared_dir, CONES)
    found = [t for t in truth if any(iou(t, d) >= 0.5 for d in dets)]
    assert len(truth) == 10
    assert len(found) >= 8
    # the same network through the project's own ONNX engine (original layout, same 640 input)
    reference = OnnxYoloEngine(models_dir / CONE_MODEL_FILE, conf=0.25).detect([image])[0]
    assert len(dets) == len(reference)
    for ref in reference:
        best = max(dets, key=lambda d: iou(d, ref))
        assert iou(best, ref) > 0.95
        assert best.confidence == pytest.approx(ref.confidence, abs=0.02)


def test_yolov5_layout_onnx_is_refused(models_dir: Path) -> None:
    with pytest.raises(ConfigError, match="YOLOv5 ONNX export"):
        build_engine(ModelSpec(path=CONE_MODEL_FILE, engine="ultralytics"), models_dir)
