"""Which model to run and how: a `ModelSpec` names a file (relative to a models directory) or an Ultralytics
name, its runtime, input size and confidence floor."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EngineName = Literal["auto", "onnx", "litert", "ultralytics", "rfdetr"]


class ModelSpec(BaseModel):
    """One model: a file (relative to `models_dir`) or an Ultralytics name, and how to run it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    engine: EngineName = "auto"
    imgsz: int | None = Field(None, gt=0)
    conf: float = Field(0.05, ge=0.0, le=1.0)
    threads: int = Field(0, ge=0, description="intra-op threads for ONNX Runtime / LiteRT (0 = all cores)")


CONE_MODEL_FILE = "roadwork-cone-yolov5n-640.onnx"
COCO_MODEL_FILE = "yolo11n-coco-int8.tflite"
CONE_MODEL = ModelSpec(path=CONE_MODEL_FILE, imgsz=320)
