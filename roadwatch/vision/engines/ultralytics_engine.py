"""Ultralytics engine (YOLO v8/11, RT-DETR; .pt, ONNX, TFLite, TensorRT). Needs the `ultralytics` extra.

`from_ultralytics` is the converter: it reads the `boxes` of an Ultralytics `Results` object (xyxyn, conf,
cls) without importing Ultralytics, so it is unit-tested with plain arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from roadwatch.vision.engines.base import WholeImageEngine, to_canonical, weights_sha256
from schemas import Detection, ModelRef


def from_ultralytics(result: Any, labels: dict[int, str], model: str) -> list[Detection]:
    """Canonical detections from one Ultralytics `Results` (its `.boxes.xyxyn`, `.conf`, `.cls`)."""
    return to_canonical(result.boxes.xyxyn, result.boxes.conf, result.boxes.cls, labels, model)


class UltralyticsEngine(WholeImageEngine):
    """Wraps `ultralytics.YOLO` or `ultralytics.RTDETR` (chosen by the name containing 'rtdetr')."""

    def __init__(self, path_or_name: str, *, imgsz: int | None = None, conf: float = 0.05) -> None:
        import ultralytics

        cls = ultralytics.RTDETR if "rtdetr" in Path(path_or_name).name.lower() else ultralytics.YOLO
        self._model = cls(path_or_name, task="detect") if cls is ultralytics.YOLO else cls(path_or_name)
        self.labels: dict[int, str] = {int(k): str(v) for k, v in self._model.names.items()}
        path = Path(path_or_name)
        sha = weights_sha256(path) if path.is_file() else "unknown"
        self.ref = ModelRef(
            name=path.stem, version=f"ultralytics-{ultralytics.__version__}", weights_sha256=sha
        )
        self._imgsz, self._conf = imgsz, conf

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        kwargs: dict[str, Any] = {"conf": self._conf, "verbose": False}
        if self._imgsz:
            kwargs["imgsz"] = self._imgsz
        # Ultralytics expects BGR numpy arrays, as OpenCV gives them
        results = self._model.predict([img[:, :, ::-1] for img in images], **kwargs)
        return [from_ultralytics(r, self.labels, self.ref.name) for r in results]
