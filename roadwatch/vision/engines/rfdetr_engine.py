"""RF-DETR engine, when the optional `rfdetr` package is installed (`pip install roadwatch[rfdetr]`).

Loads a local RF-DETR checkpoint (`checkpoint_best_ema.pth` of a training run, or a published `rf-detr-*.pth`
downloaded beforehand) with `RFDETR.from_checkpoint`, which picks the variant (Nano ... Large) the file was
trained as. Offline, set `HF_HUB_OFFLINE=1`.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from roadwatch.errors import ConfigError
from roadwatch.vision.engines.base import WholeImageEngine, to_canonical, weights_sha256
from schemas import Detection, ModelRef

BACKGROUND = "__background__"


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
    """Runs an RF-DETR checkpoint from a local file (hubs are not reachable offline).

    Raises ConfigError when the file is missing; ImportError without the extra. Label names come from
    RF-DETR's own `class_name` per detection (it maps the sparse COCO ids of pretrained checkpoints itself).
    """

    def __init__(self, path: str, *, conf: float = 0.05) -> None:
        from rfdetr.detr import RFDETR

        weights = Path(path)
        if not weights.is_file():
            raise ConfigError(f"RF-DETR checkpoint {path} not found (give a local .pth file)")
        self._model: Any = RFDETR.from_checkpoint(str(weights.resolve()))
        self.labels: dict[int, str] = dict(enumerate(self._model.class_names))
        self.ref = ModelRef(
            name=weights.stem, version=f"rfdetr-{version('rfdetr')}", weights_sha256=weights_sha256(weights)
        )
        self._conf = conf

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        out = []
        for img in images:
            d = self._model.predict(img, threshold=self._conf)
            names = [str(n) for n in d.data.get("class_name", [])]
            labels = {**self.labels, **{int(c): n for c, n in zip(d.class_id, names, strict=False) if n}}
            # the head's no-object slot, which RF-DETR itself names "__background__", is no detection
            keep = np.array([labels.get(int(c)) != BACKGROUND for c in d.class_id], dtype=bool)
            out.append(
                from_rfdetr(
                    d.xyxy[keep],
                    d.confidence[keep],
                    d.class_id[keep],
                    img.shape[1],
                    img.shape[0],
                    labels,
                    self.ref.name,
                )
            )
        return out
