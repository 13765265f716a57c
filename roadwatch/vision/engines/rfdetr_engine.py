"""RF-DETR engine, when the optional `rfdetr` package is installed (`pip install roadwatch[rfdetr]`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from roadwatch.vision.engines.base import WholeImageEngine, to_canonical, weights_sha256
from schemas import Detection, ModelRef


def from_rfdetr(
    xyxy: np.ndarray,
    confidence: np.ndarray,
    class_id: np.ndarray,
    width: int,
    height: int,
    labels: dict[int, str],
    model: str,
) -> list[Detection]:
    """Canonical detections from RF-DETR's pixel-space arrays (supervision `Detections` fields)."""
    scale = np.array([width, height, width, height], dtype=np.float64)
    return to_canonical(
        np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) / scale, confidence, class_id, labels, model
    )


class RfDetrEngine(WholeImageEngine):
    """Runs an RF-DETR checkpoint (a local weights path; hubs are not reachable offline)."""

    def __init__(self, path: str, *, conf: float = 0.05) -> None:
        import rfdetr

        self._model: Any = rfdetr.RFDETRBase(pretrain_weights=path)
        self.labels: dict[int, str] = dict(enumerate(getattr(self._model, "class_names", []) or []))
        p = Path(path)
        self.ref = ModelRef(
            name=p.stem,
            version=f"rfdetr-{rfdetr.__version__}",
            weights_sha256=weights_sha256(p) if p.is_file() else "unknown",
        )
        self._conf = conf

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        out = []
        for img in images:
            d = self._model.predict(img, threshold=self._conf)
            out.append(
                from_rfdetr(
                    d.xyxy, d.confidence, d.class_id, img.shape[1], img.shape[0], self.labels, self.ref.name
                )
            )
        return out
