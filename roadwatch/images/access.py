"""Settings shared by every service that reads images: allow-lists and limits (a settings mixin)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from roadwatch.images.fetch import FetchPolicy
from roadwatch.images.inspect import ImageLimits


class ImageAccess(BaseModel):
    allowed_file_roots: list[Path] = Field(default_factory=list, description="empty: any local file")
    allowed_http_hosts: list[str] = Field(default_factory=list)
    allowed_s3_buckets: list[str] = Field(default_factory=list)
    max_bytes: int = Field(25 * 1024 * 1024, gt=0)
    max_pixels: int = Field(40_000_000, gt=0)

    def limits(self) -> ImageLimits:
        return ImageLimits(self.max_bytes, self.max_pixels)

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            tuple(self.allowed_file_roots),
            frozenset(self.allowed_http_hosts),
            frozenset(self.allowed_s3_buckets),
            self.max_bytes,
        )
