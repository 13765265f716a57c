"""Settings shared by every service that reads images: allow-lists and limits (a settings mixin).

Every allow-list is deny-by-default: an empty list allows nothing. In the environment a list is JSON
(`["/data/cams", "/mnt/frames"]`) or comma-separated (`/data/cams,/mnt/frames`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from roadwatch.images.fetch import FetchPolicy
from roadwatch.images.inspect import ImageLimits

# NoDecode: the environment's string reaches `_split_lists` as it is (else pydantic-settings insists on JSON)
PathList = Annotated[list[Path], NoDecode]
NameList = Annotated[list[str], NoDecode]


class ImageAccess(BaseModel):
    allowed_file_roots: PathList = Field(
        default_factory=list, description="local folders whose files may be read (empty: no local file)"
    )
    allowed_http_hosts: NameList = Field(default_factory=list)
    allowed_s3_buckets: NameList = Field(default_factory=list)
    max_bytes: int = Field(25 * 1024 * 1024, gt=0)
    max_pixels: int = Field(40_000_000, gt=0)
    fetch_timeout_s: float = Field(10.0, gt=0, description="the most one fetch may take, all of it")
    fetch_stuck_s: float = Field(
        5.0, gt=0, description="readiness turns false while a fetch has run longer than this"
    )

    @field_validator("allowed_file_roots", "allowed_http_hosts", "allowed_s3_buckets", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        """A string (from the environment) is a JSON list, or comma-separated values."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list: {exc}") from exc
        return [item.strip() for item in value.split(",") if item.strip()]

    def limits(self) -> ImageLimits:
        return ImageLimits(self.max_bytes, self.max_pixels)

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            tuple(self.allowed_file_roots),
            frozenset(self.allowed_http_hosts),
            frozenset(self.allowed_s3_buckets),
            self.max_bytes,
            self.fetch_timeout_s,
        )
