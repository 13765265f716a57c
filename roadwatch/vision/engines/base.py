"""The engine interface every model runtime implements."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from schemas import Detection, ModelRef


class Engine(Protocol):
    """Detects objects in RGB uint8 images (H, W, 3); returns normalised boxes per image.

    `prepare` (resize, pad, normalise) is thread-safe and runs in the decode pool, overlapping `infer`
    on other images; `detect(images)` is `infer([prepare(i) for i in images])`.
    """

    ref: ModelRef
    labels: dict[int, str]

    def prepare(self, image: np.ndarray) -> Any: ...

    def infer(self, prepared: list[Any]) -> list[list[Detection]]: ...

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]: ...


class WholeImageEngine:
    """For runtimes that preprocess internally (Ultralytics, RF-DETR): `prepare` passes the image through."""

    def prepare(self, image: np.ndarray) -> Any:
        return image

    def infer(self, prepared: list[Any]) -> list[list[Detection]]:
        return self.detect(prepared)

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        raise NotImplementedError


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def to_canonical(
    xyxyn: np.ndarray, confidence: np.ndarray, class_id: np.ndarray, labels: dict[int, str], model: str
) -> list[Detection]:
    """Canonical detections from normalised xyxy boxes, confidences and class ids (converters end here)."""
    boxes = np.asarray(xyxyn, dtype=np.float64).reshape(-1, 4).clip(0.0, 1.0)
    conf = np.asarray(confidence, dtype=np.float64).reshape(-1)
    cls = np.asarray(class_id).reshape(-1).astype(int)
    return [
        Detection(
            label=labels.get(int(c), str(int(c))),
            class_id=int(c),
            confidence=float(min(1.0, p)),
            x1=float(b[0]),
            y1=float(b[1]),
            x2=float(b[2]),
            y2=float(b[3]),
            model=model,
        )
        for b, p, c in zip(boxes, conf, cls, strict=True)
    ]
