"""Producer settings (`ROADWATCH_PRODUCER_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.images.fetch import FetchPolicy
from roadwatch.images.inspect import ImageLimits
from roadwatch.kafka.topics import IMAGES
from roadwatch.settings import ComponentSettings


class ProducerSettings(ComponentSettings):
    """Limits, allow-lists and batching for `roadwatch produce`."""

    section: ClassVar[str] = "producer"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_PRODUCER_", frozen=True, extra="forbid")

    topic: str = IMAGES
    inline_max_bytes: int = Field(0, ge=0, description="send images up to this size inline (0 = never)")
    max_bytes: int = Field(25 * 1024 * 1024, gt=0)
    max_pixels: int = Field(40_000_000, gt=0)
    allowed_http_hosts: list[str] = Field(default_factory=list)
    allowed_s3_buckets: list[str] = Field(default_factory=list)
    linger_ms: int = Field(20, ge=0)

    def limits(self) -> ImageLimits:
        return ImageLimits(self.max_bytes, self.max_pixels)

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            file_roots=(),
            http_hosts=frozenset(self.allowed_http_hosts),
            s3_buckets=frozenset(self.allowed_s3_buckets),
            max_bytes=self.max_bytes,
        )
