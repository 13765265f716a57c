"""Query settings (`ROADWATCH_QUERY_*`) and the time-window option every reader shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from roadwatch.errors import ConfigError
from roadwatch.kafka.topics import THRESHOLDS
from roadwatch.settings import ComponentSettings
from schemas.records import VLM_TIERS


class QuerySettings(ComponentSettings):
    section: ClassVar[str] = "query"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_QUERY_", frozen=True, extra="forbid")

    cost_per_call: dict[str, float] = Field(default_factory=lambda: {"local": 0.0, "openai": 0.002})
    # what one call to each tier costs, in any unit (replay and tune minimise it): relative compute here
    tier_cost: dict[str, float] = Field(
        default_factory=lambda: {"fast": 1.0, "power": 4.0, "precision": 16.0}
    )

    thresholds_topic: str = THRESHOLDS  # where `tune --apply` publishes its bands
    # how far the Flink job may move an applied band's edges (None: within its own bounds, stretched)
    applied_drift: float | None = Field(0.05, ge=0.0, le=1.0)
    delivery_timeout_s: float = Field(30.0, gt=0)

    @field_validator("tier_cost")
    @classmethod
    def _tiers_priced(cls, value: dict[str, float]) -> dict[str, float]:
        if unknown := set(value) - set(VLM_TIERS):
            raise ValueError(f"unknown tiers {sorted(unknown)}; tiers are {list(VLM_TIERS)}")
        if negative := sorted(t for t, c in value.items() if c < 0):
            raise ValueError(f"a call cannot cost less than nothing: {negative}")
        return value


def parse_since(value: str) -> datetime:
    """`2026-11-27`, an ISO timestamp, or a relative `30m` / `6h` / `7d`."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--since {value!r}: expected ISO date/time or 30m / 6h / 7d") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
