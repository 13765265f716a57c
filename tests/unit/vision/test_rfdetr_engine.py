"""The RF-DETR engine's wiring, on a randomly initialised RF-DETR Nano that the test builds and saves.

No RF-DETR weights are obtainable offline, so nothing here says what a real checkpoint detects: these tests
check that the factory loads a local checkpoint, takes its class names, hashes the file, and converts what
RF-DETR itself returns into normalised canonical boxes. Needs the `rfdetr` extra: `make test-engines`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roadwatch.errors import ConfigError
from roadwatch.vision.engines.factory import build_engine
from roadwatch.vision.engines.rfdetr_engine import BACKGROUND, RfDetrEngine
from roadwatch.vision.models import ModelSpec

pytestmark = pytest.mark.rfdetr
if importlib.util.find_spec("rfdetr") is None:
    pytest.skip(
        "needs the [rfdetr] extra: ROADWATCH_WITH_RFDETR=1 ./scripts/setup.sh (make test-engines)",
        allow_module_level=True,
    )

WORK_ZONE = "datasets/vtti-workzone/OS_4.jpg.jpg"


@pytest.fixture(scope="module", autouse=True)
def offline_hub() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-class RF-DETR Nano with random weights, saved as a training run saves its checkpoints."""
    import rfdetr
    import torch

    torch.manual_seed(0)
    model = rfdetr.RFDETRNano(pretrain_weights=None, num_classes=1)
    path = tmp_path_factory.mktemp("rfdetr") / "cones-random-nano.pth"
    torch.save(
        {
            "model": model.model.model.state_dict(),
            "args": {"num_classes": 1, "class_names": ["traffic_cone"], "pretrain_weights": None},
            "model_name": "RFDETRNano",
            "model_config": model.model_config.model_dump(mode="json"),
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def engine(checkpoint: Path) -> RfDetrEngine:
    built = build_engine(ModelSpec(path=str(checkpoint), engine="rfdetr", conf=0.0), checkpoint.parent)
    assert isinstance(built, RfDetrEngine)
    return built


def test_checkpoint_names_and_hash(engine: RfDetrEngine, checkpoint: Path) -> None:
    assert engine.labels == {0: "traffic_cone"}
    assert engine.ref.name == "cones-random-nano"
    assert engine.ref.version == f"rfdetr-{version('rfdetr')}"
    assert engine.ref.weights_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()


def test_detections_are_rfdetrs_own_boxes_normalised(engine: RfDetrEngine, shared_dir: Path) -> None:
    with Image.open(shared_dir / WORK_ZONE) as im:
        image = np.asarray(im.convert("RGB"))
    (dets,) = engine.detect([image])
    raw = engine._model.predict(image, threshold=0.0)
    objects = [i for i, name in enumerate(raw.data["class_name"]) if name != BACKGROUND]
    assert len(raw) > len(objects) > 0  # the head's no-object slot is dropped
    assert len(dets) == len(objects)
    h, w = image.shape[:2]
    for d, i in zip(dets, objects, strict=True):
        assert (d.label, d.class_id, d.model) == ("traffic_cone", 0, "cones-random-nano")
        expected = np.clip(raw.xyxy[i] / np.array([w, h, w, h]), 0.0, 1.0)
        assert (d.x1, d.y1, d.x2, d.y2) == pytest.approx(tuple(expected), abs=1e-6)
        assert d.confidence == pytest.approx(float(raw.confidence[i]))
        assert 0.0 <= d.x1 <= d.x2 <= 1.0 and 0.0 <= d.y1 <= d.y2 <= 1.0


def test_missing_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        build_engine(ModelSpec(path="rf-detr-nano.pth", engine="rfdetr"), tmp_path)
