"""LiteRT (TFLite) engine for Ultralytics YOLO exports, full-integer or float, without torch.

Ultralytics TFLite exports take NHWC input and give the v8 layout `[1, 4 + nc, N]` with boxes normalised
to the input size; class names sit in a `metadata.json` zipped onto the end of the file.
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import numpy as np

from roadwatch.vision.engines.base import weights_sha256
from roadwatch.vision.engines.yolo_decode import Letterbox, letterbox, to_detections
from schemas import Detection, ModelRef


def read_metadata(path: Path) -> dict[str, object]:
    """The Ultralytics metadata appended to a TFLite file, or {} when there is none."""
    try:
        with zipfile.ZipFile(path) as z:
            meta = ast.literal_eval(z.read(z.namelist()[0]).decode())
    except (zipfile.BadZipFile, IndexError, ValueError, SyntaxError):
        return {}
    return meta if isinstance(meta, dict) else {}


class LiteRtYoloEngine:
    """Runs a YOLO TFLite export with ai-edge-litert; (de)quantises int8 tensors itself."""

    def __init__(self, path: Path, *, conf: float = 0.25, iou: float = 0.45, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._it = Interpreter(model_path=str(path), num_threads=threads)
        self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]
        self._out = self._it.get_output_details()[0]
        self._size = int(self._in["shape"][1])
        meta = read_metadata(path)
        names = meta.get("names", {0: "object"})
        self.labels: dict[int, str] = {int(k): str(v) for k, v in dict(names).items()}  # type: ignore[call-overload]
        self.ref = ModelRef(
            name=path.stem, version=str(meta.get("version", "tflite")), weights_sha256=weights_sha256(path)
        )
        self._conf, self._iou = conf, iou

    def _run(self, chw: np.ndarray) -> np.ndarray:
        x = chw.transpose(1, 2, 0)[None]
        scale, zero = self._in["quantization"]
        if self._in["dtype"] != np.float32:
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(self._in["dtype"])
        self._it.set_tensor(self._in["index"], x)
        self._it.invoke()
        y = self._it.get_tensor(self._out["index"])
        oscale, ozero = self._out["quantization"]
        out: np.ndarray = (y.astype(np.float32) - ozero) * oscale if y.dtype != np.float32 else y
        out[:, :4] *= self._size  # boxes come normalised to the input size
        return out

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        return letterbox(image, self._size)

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return self.infer([self.prepare(img) for img in images])

    def infer(self, prepared: list[tuple[np.ndarray, Letterbox]]) -> list[list[Detection]]:
        return [
            to_detections(self._run(chw), geo, self.labels, self.ref.name, self._conf, self._iou)
            for chw, geo in prepared
        ]
