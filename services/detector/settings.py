"""Detector settings (`ROADWATCH_DETECTOR_*`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from roadwatch.images.access import ImageAccess
from roadwatch.kafka.topics import DETECTIONS, IMAGES, SHADOW_DETECTIONS, THRESHOLDS, VERDICTS, escalations
from roadwatch.settings import METRICS_PORTS, MODELS_DIR, ComponentSettings
from roadwatch.vision.models import CONE_MODEL, ModelSpec
from roadwatch.vision.scoring import DEFAULT_BAND, Band
from schemas.records import VARIANT

FAST_ESCALATIONS = escalations("fast")
SHADOW_PORT_OFFSET = 30  # a shadow's default metrics port: its production service's + 30


class DetectorSettings(ComponentSettings, ImageAccess):
    section: ClassVar[str] = "detector"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_DETECTOR_", frozen=True, extra="forbid")

    models: list[ModelSpec] = Field(default_factory=lambda: [CONE_MODEL])
    models_dir: Path = MODELS_DIR
    band_low: float = Field(DEFAULT_BAND.low, ge=0.0, le=1.0)
    band_high: float = Field(DEFAULT_BAND.high, ge=0.0, le=1.0)
    input_topic: str = IMAGES
    detections_topic: str = DETECTIONS
    verdicts_topic: str = VERDICTS
    escalation_topic: str = FAST_ESCALATIONS
    thresholds_topic: str = THRESHOLDS
    # a shadow variant: its own group, only variant-tagged detections on `shadow_topic`, never a decision
    shadow: str | None = Field(None, pattern=VARIANT.pattern)
    shadow_topic: str = SHADOW_DETECTIONS
    group_id: str = "roadwatch-detector"
    instance_id: str = "0"
    batch_size: int = Field(16, ge=1)
    batch_timeout_ms: int = Field(200, ge=1)
    # Half the cores: the model runtime uses all of them; more workers only pay off for slow remote fetches.
    decode_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1)
    warmup_runs: int = Field(2, ge=0)
    metrics_port: int = Field(METRICS_PORTS["detector"], ge=0, le=65535)
    shadow_metrics_port: int = Field(METRICS_PORTS["detector"] + SHADOW_PORT_OFFSET, ge=0, le=65535)

    @model_validator(mode="after")
    def _band_ordered(self) -> DetectorSettings:
        if self.band_low > self.band_high:
            raise ValueError(f"band_low {self.band_low} > band_high {self.band_high}")
        return self

    @property
    def group(self) -> str:
        """The consumer group (and, with the instance id, the transactional id): a shadow's is its own, so
        it reads every image production reads and never fences production's producer."""
        return self.group_id if self.shadow is None else f"{self.group_id}-shadow-{self.shadow}"

    @property
    def serving_port(self) -> int:
        """Where `/metrics` and `/ready` listen: a shadow's own port, so it runs beside production."""
        return self.metrics_port if self.shadow is None else self.shadow_metrics_port

    def band(self) -> Band:
        """The band of every source without one of its own on `thresholds.v1`."""
        return Band(self.band_low, self.band_high)
