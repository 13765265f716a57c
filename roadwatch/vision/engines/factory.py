"""Build engines from `ModelSpec`s: the file suffix picks the runtime unless the spec names one."""

from __future__ import annotations

from pathlib import Path

from roadwatch.errors import ConfigError
from roadwatch.vision.engines.base import Engine
from roadwatch.vision.models import ModelSpec


def resolve_path(spec: ModelSpec, models_dir: Path) -> str:
    """Absolute path for a relative file under `models_dir`; an Ultralytics name is returned as is."""
    path = Path(spec.path)
    if path.is_absolute():
        return str(path)
    candidate = (models_dir / path).resolve()
    if candidate.exists() or spec.engine in ("onnx", "litert"):
        return str(candidate)
    return spec.path


def build_engine(spec: ModelSpec, models_dir: Path) -> Engine:
    """Load one engine. Raises ConfigError when the weights are missing or its runtime is not installed."""
    target = resolve_path(spec, models_dir)
    engine: str = spec.engine
    if engine == "auto":
        suffix = Path(target).suffix.lower()
        engine = {".onnx": "onnx", ".tflite": "litert"}.get(suffix, "ultralytics")
    if engine in ("onnx", "litert") and not Path(target).is_file():
        raise ConfigError(
            f"model file {target} not found: point the service's models_dir (ROADWATCH_DETECTOR_MODELS_DIR, "
            "ROADWATCH_VLM_MODELS_DIR; `demo --models`) at the folder that holds it"
        )
    try:
        if engine == "onnx":
            from roadwatch.vision.engines.onnx_yolo import OnnxYoloEngine

            return OnnxYoloEngine(Path(target), imgsz=spec.imgsz, conf=spec.conf, threads=spec.threads)
        if engine == "litert":
            from roadwatch.vision.engines.litert_yolo import LiteRtYoloEngine

            return LiteRtYoloEngine(Path(target), conf=max(spec.conf, 0.25))
        if engine == "rfdetr":
            from roadwatch.vision.engines.rfdetr_engine import RfDetrEngine

            return RfDetrEngine(target, conf=spec.conf)
        from roadwatch.vision.engines.ultralytics_engine import UltralyticsEngine

        return UltralyticsEngine(target, imgsz=spec.imgsz, conf=spec.conf)
    except ImportError as exc:
        raise ConfigError(
            f"engine {engine!r} for {spec.path} needs an extra: {exc} "
            "(pip install 'roadwatch[ultralytics]' or 'roadwatch[rfdetr]')"
        ) from exc
