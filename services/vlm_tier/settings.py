"""Per-tier settings: `ROADWATCH_VLM_<TIER>_*` (e.g. `ROADWATCH_VLM_POWER_BACKEND=openai`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from roadwatch.images.access import ImageAccess
from roadwatch.kafka.topics import SHADOW_OPINIONS, VERDICTS, escalations
from roadwatch.settings import METRICS_PORTS, MODELS_DIR, ComponentSettings, toml_section
from roadwatch.vision.scoring import DETECTION_ONLY_MIDPOINT
from schemas.records import VARIANT, VlmTier
from services.vlm_tier.breaker import BreakerConfig
from services.vlm_tier.core import Ladder, ladder_for

DEFAULT_ACCEPT = {"fast": 0.7, "power": 0.65, "precision": 0.0}
SHADOW_PORT_OFFSET = 30  # a shadow's default metrics port: its production tier's + 30


class TierSettings(ComponentSettings, ImageAccess):
    """One tier's backend, thresholds, resilience and topics."""

    section: ClassVar[str] = "vlm"
    model_config = SettingsConfigDict(
        env_prefix="ROADWATCH_VLM_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    tier: VlmTier = "fast"
    backend: Literal["openai", "local"] = "local"
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key: SecretStr = SecretStr("EMPTY")
    send_uri: bool = False
    prompt_version: str = "roadwork-v1"
    accept: float | None = Field(None, ge=0.0, le=1.0, description="decide at or above this confidence")
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(2, ge=0)
    retry_base_s: float = Field(0.2, ge=0)
    max_in_flight: int = Field(32, ge=1)
    bulkhead_wait_s: float = Field(60.0, ge=0)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    detector_midpoint: float = Field(
        DETECTION_ONLY_MIDPOINT,
        ge=0,
        le=1,
        description="detection-only answer below fast: roadwork at or above",
    )
    models_dir: Path = MODELS_DIR
    topic_prefix: str = ""
    verdicts_topic: str = VERDICTS
    # a shadow variant: its own group, only variant-tagged opinions on `shadow_topic`, never a decision
    shadow: str | None = Field(None, pattern=VARIANT.pattern)
    shadow_topic: str = SHADOW_OPINIONS
    group_id: str | None = None
    instance_id: str = "0"
    batch_size: int = Field(256, ge=1)  # one transaction; ~8 rounds of max_in_flight keeps the tail small
    batch_timeout_ms: int = Field(200, ge=1)
    metrics_port: int = Field(METRICS_PORTS["vlm-fast"], ge=0, le=65535)
    shadow_metrics_port: int = Field(METRICS_PORTS["vlm-fast"] + SHADOW_PORT_OFFSET, ge=0, le=65535)

    def topic(self, tier: VlmTier) -> str:
        return self.topic_prefix + escalations(tier)

    @property
    def group(self) -> str:
        """The consumer group (with the instance id, the transactional id): a shadow's is its own."""
        group = self.group_id or f"roadwatch-vlm-{self.tier}"
        return group if self.shadow is None else f"{group}-shadow-{self.shadow}"

    @property
    def serving_port(self) -> int:
        """Where `/metrics` and `/ready` listen: a shadow's own port, so it runs beside production."""
        return self.metrics_port if self.shadow is None else self.shadow_metrics_port

    def ladder(self) -> Ladder:
        accept = self.accept if self.accept is not None else DEFAULT_ACCEPT[self.tier]
        return ladder_for(self.tier, accept, self.detector_midpoint)


def tier_settings(tier: VlmTier, **overrides: Any) -> TierSettings:
    """Settings for `tier`. Precedence: `overrides` > `ROADWATCH_VLM_<TIER>_*` > `ROADWATCH_VLM_*` >
    `[vlm.<tier>]` > `[vlm]` in the config file > defaults."""

    class PerTier(TierSettings):
        section: ClassVar[str] = f"vlm.{tier}"
        model_config = SettingsConfigDict(
            env_prefix=f"ROADWATCH_VLM_{tier.upper()}_",
            env_nested_delimiter="__",
            frozen=True,
            extra="forbid",
        )

        metrics_port: int = Field(METRICS_PORTS[f"vlm-{tier}"], ge=0, le=65535)
        shadow_metrics_port: int = Field(METRICS_PORTS[f"vlm-{tier}"] + SHADOW_PORT_OFFSET, ge=0, le=65535)

        @classmethod
        def fallback_sources(cls, settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                EnvSettingsSource(settings_cls, env_prefix="ROADWATCH_VLM_", env_nested_delimiter="__"),
                toml_section(settings_cls, f"vlm.{tier}"),
                toml_section(settings_cls, "vlm"),
            )

    return PerTier(**{"tier": tier, **overrides})
