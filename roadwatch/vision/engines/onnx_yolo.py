"""Plain ONNX Runtime engine for YOLO-format exports (v5 and v8/11 output layouts)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import onnxruntime as ort

from roadwatch.vision.engines.base import weights_sha256
from roadwatch.vision.engines.yolo_decode import Letterbox, letterbox, to_detections
from schemas import Detection, ModelRef


class OnnxYoloEngine:
    """Runs a YOLO ONNX export; reads class names and input size from the model itself."""

    def __init__(
        self, path: Path, *, imgsz: int | None = None, conf: float = 0.05, iou: float = 0.45, threads: int = 0
    ) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        # No busy-waiting: beside a broker and Kafka client threads, spinning workers steal the cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self._size = int(inp.shape[2]) if isinstance(inp.shape[2], int) else 640
        self._batched = not isinstance(inp.shape[0], int)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.labels: dict[int, str] = ast.literal_eval(meta["names"]) if "names" in meta else {0: "object"}
        self.ref = ModelRef(
            name=path.stem, version=meta.get("version", "onnx"), weights_sha256=weights_sha256(path)
        )
        self._conf, self._iou, self._imgsz = conf, iou, imgsz

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        return letterbox(image, self._size, self._imgsz)

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return self.infer([self.prepare(img) for img in images])

    def infer(self, prepared: list[tuple[np.ndarray, Letterbox]]) -> list[list[Detection]]:
        if self._batched and len(prepared) > 1:
            outputs = self._session.run(None, {self._input: np.stack([p[0] for p in prepared])})[0]
            per_image = [outputs[i : i + 1] for i in range(len(prepared))]
        else:
            per_image = [self._session.run(None, {self._input: p[0][None]})[0] for p in prepared]
        return [
            to_detections(out, geo, self.labels, self.ref.name, self._conf, self._iou)
            for out, (_, geo) in zip(per_image, prepared, strict=True)
        ]
