"""Ultralytics engine (YOLO v8/11, RT-DETR; .pt, ONNX, TFLite, TensorRT). Needs the `ultralytics` extra.

`from_ultralytics` is the converter: it reads the `boxes` of an Ultralytics `Results` object (xyxyn, conf,
cls) without importing Ultralytics, so it is unit-tested with plain arrays.

Offline (no model hub), set `YOLO_OFFLINE=1` and a writable `YOLO_CONFIG_DIR` before the first import and
give a weights file; online, an Ultralytics model name (`yolo11n.pt`) is downloaded by Ultralytics itself.
Importing Ultralytics sets `OMP_NUM_THREADS=1` for the process when it is unset.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np

from roadwatch.errors import ConfigError
from roadwatch.vision.engines.base import WholeImageEngine, to_canonical, weights_sha256
from schemas import Detection, ModelRef


def from_ultralytics(result: Any, labels: dict[int, str], model: str) -> list[Detection]:
    """Canonical detections from one Ultralytics `Results` (its `.boxes.xyxyn`, `.conf`, `.cls`)."""
    return to_canonical(result.boxes.xyxyn, result.boxes.conf, result.boxes.cls, labels, model)


def is_yolov5_layout(output_shape: list[Any], num_classes: int) -> bool:
    """Whether a detection output is YOLOv5's `[1, N, 5 + nc]` (with objectness), which Ultralytics 8 cannot
    decode (it reads `[1, 4 + nc, N]` and gives garbage boxes for the other layout without an error)."""
    return (
        len(output_shape) == 3 and output_shape[-1] == 5 + num_classes and output_shape[1] != 4 + num_classes
    )


def check_onnx_layout(path: Path) -> None:
    """Raise ConfigError for a YOLOv5-layout ONNX export; the `onnx` engine runs those."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    try:
        num_classes = len(ast.literal_eval(session.get_modelmeta().custom_metadata_map.get("names", "{}")))
    except (ValueError, SyntaxError, TypeError):
        num_classes = 0  # no readable names: not an Ultralytics or YOLOv5 export, leave it to Ultralytics
    shape = session.get_outputs()[0].shape
    if num_classes and is_yolov5_layout(shape, num_classes):
        raise ConfigError(
            f"{path.name} is a YOLOv5 ONNX export (output {shape}); Ultralytics cannot decode that layout: "
            "use engine 'onnx' (or 'auto') for it"
        )


class UltralyticsEngine(WholeImageEngine):
    """Wraps `ultralytics.YOLO` or `ultralytics.RTDETR` (chosen by the name containing 'rtdetr').

    Raises ConfigError for weights Ultralytics cannot run correctly (a YOLOv5-layout ONNX) and when no
    weights file is there to hash; ImportError without the extra.
    """

    def __init__(
        self, path_or_name: str, *, imgsz: int | None = None, conf: float = 0.05, iou: float = 0.45
    ) -> None:
        import ultralytics
        from ultralytics.models import RTDETR, YOLO

        path = Path(path_or_name)
        if path.suffix.lower() == ".onnx" and path.is_file():
            check_onnx_layout(path)
        self._model = (
            RTDETR(path_or_name) if "rtdetr" in path.name.lower() else YOLO(path_or_name, task="detect")
        )
        self.labels: dict[int, str] = {int(k): str(v) for k, v in self._model.names.items()}
        # the file Ultralytics loaded (for a model name: the file it downloaded)
        weights = Path(str(self._model.ckpt_path or path_or_name))
        if not weights.is_file():
            raise ConfigError(f"Ultralytics loaded {path_or_name!r} but no weights file is there to hash")
        self.ref = ModelRef(
            name=weights.stem,
            version=f"ultralytics-{ultralytics.__version__}",
            weights_sha256=weights_sha256(weights),
        )
        self._imgsz, self._conf, self._iou = imgsz, conf, iou

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        # the same NMS overlap as the ONNX and LiteRT engines (Ultralytics' own default is 0.7)
        kwargs: dict[str, Any] = {"conf": self._conf, "iou": self._iou, "verbose": False}
        if self._imgsz:
            kwargs["imgsz"] = self._imgsz
        # Ultralytics expects BGR numpy arrays, as OpenCV gives them
        results = self._model.predict([img[:, :, ::-1] for img in images], **kwargs)
        return [from_ultralytics(r, self.labels, self.ref.name) for r in results]
