"""`local` backend: a real CPU second opinion from the models that exist offline. Not a VLM.

What each tier looks at (every stage adds to the one before):
- fast: the cone model at full 640 px and at 320 px (the detector runs only 320), and the COCO YOLO11n
  model for workers (person) and work vehicles (truck);
- power: plus the cone model on a 2x2 grid of overlapping tiles (small, distant cones);
- precision: plus sign reading with RapidOCR ("ROAD WORK", "WORK ZONE", "LANE CLOSED", "DETOUR", ...).
Evidence is combined with the detector's noisy-OR scoring; the answer's confidence grows with the distance
of the score from the decision threshold.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from roadwatch.images.inspect import ImageLimits, decode_rgb
from roadwatch.vision.engines.base import Engine
from roadwatch.vision.engines.factory import build_engine
from roadwatch.vision.models import ModelSpec
from roadwatch.vision.scoring import DEFAULT_PROFILE, roadwork_score
from schemas import Detection, EscalationRequest
from services.vlm_tier.parsing import Answer

SIGN_WORDS = re.compile(
    r"ROAD\s*WORK|WORK\s*ZONE|LANE\s*CLOSED|ROAD\s*CLOSED|DETOUR|CONSTRUCTION|"
    r"MEN\s*WORKING|WORKERS|FLAGGER|BE\s*PREPARED\s*TO\s*STOP|ONE\s*LANE",
    re.IGNORECASE,
)
STAGES = {"fast": 1, "power": 2, "precision": 3}
THRESHOLD = 0.3


def tiles(
    image: np.ndarray, grid: int = 2, overlap: float = 0.15
) -> list[tuple[np.ndarray, float, float, float, float]]:
    """Overlapping crops with their normalised (x0, y0, w, h) in the full image."""
    h, w = image.shape[:2]
    tw, th = w / grid * (1 + overlap), h / grid * (1 + overlap)
    out = []
    for gy in range(grid):
        for gx in range(grid):
            x0 = min(w - tw, gx * w / grid - (tw - w / grid) / 2 if gx else 0)
            y0 = min(h - th, gy * h / grid - (th - h / grid) / 2 if gy else 0)
            x0, y0 = max(0, int(x0)), max(0, int(y0))
            crop = image[y0 : y0 + int(th), x0 : x0 + int(tw)]
            out.append((crop, x0 / w, y0 / h, crop.shape[1] / w, crop.shape[0] / h))
    return out


def calibrate(score: float) -> tuple[bool, float]:
    """Decision and confidence from a roadwork score: confidence 0.5 at the threshold, 1.0 at either end."""
    if score >= THRESHOLD:
        return True, 0.5 + 0.5 * min(1.0, (score - THRESHOLD) / (1 - THRESHOLD))
    return False, 0.5 + 0.5 * min(1.0, (THRESHOLD - score) / THRESHOLD)


class LocalBackend:
    name = "local"

    def __init__(self, tier: str, models_dir: Path, limits: ImageLimits) -> None:
        self.stage = STAGES[tier]
        self.prompt_version = f"local-{tier}-v1"
        self._limits = limits
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"local-{tier}")
        self._cone_full: Engine = build_engine(
            ModelSpec(path="roadwork-cone-yolov5n-640.onnx", conf=0.1), models_dir
        )
        self._cone_320: Engine = build_engine(
            ModelSpec(path="roadwork-cone-yolov5n-640.onnx", imgsz=320, conf=0.1), models_dir
        )
        self._coco: Engine = build_engine(ModelSpec(path="yolo11n-coco-int8.tflite", conf=0.3), models_dir)
        names = ["cone-640", "cone-320", "yolo11n-coco"] + (["cone-tiles"] if self.stage >= 2 else [])
        self._ocr: Any = None
        if self.stage >= 3:
            from rapidocr_onnxruntime import RapidOCR

            self._ocr = RapidOCR()
            names.append("rapidocr")
        self.model = "+".join(names)

    async def warm_up(self) -> None:
        frame = np.full((480, 752, 3), 114, np.uint8)
        await asyncio.get_running_loop().run_in_executor(self._worker, self._look, frame)

    async def ask(self, req: EscalationRequest, image: bytes, content_type: str) -> Answer:
        pixels = decode_rgb(image, self._limits)
        # One worker: the models use every core already, and a LiteRT interpreter is not thread-safe.
        return await asyncio.get_running_loop().run_in_executor(self._worker, self._look, pixels)

    def _look(self, pixels: np.ndarray) -> Answer:
        boxes: list[Detection] = [
            *self._cone_full.detect([pixels])[0],
            *self._cone_320.detect([pixels])[0],
            *self._coco.detect([pixels])[0],
        ]
        if self.stage >= 2:
            for crop, *_ in tiles(pixels):
                boxes.extend(self._cone_full.detect([crop])[0])
        evidence = sorted(
            {f"{b.label} {b.confidence:.2f}" for b in boxes if b.label.replace(" ", "_") in DEFAULT_PROFILE},
            key=lambda e: -float(e.rsplit(" ", 1)[1]),
        )[:6]
        score = roadwork_score(boxes)
        if self._ocr is not None:
            words = self._read_signs(pixels)
            if words:
                evidence.insert(0, "sign: " + ", ".join(words))
                score = 1 - (1 - score) * (1 - 0.9)
        roadwork, confidence = calibrate(score)
        return Answer(roadwork, round(confidence, 4), tuple(evidence))

    def _read_signs(self, pixels: np.ndarray) -> list[str]:
        result, _ = self._ocr(pixels[:, :, ::-1])
        texts = " ".join(str(r[1]) for r in result or [])
        return sorted({m.group(0).upper() for m in SIGN_WORDS.finditer(texts)})

    async def close(self) -> None:
        self._worker.shutdown(wait=True)
