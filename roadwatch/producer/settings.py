"""Producer settings (`ROADWATCH_PRODUCER_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.images.access import ImageAccess, PathList
from roadwatch.kafka.topics import IMAGES
from roadwatch.settings import ComponentSettings


class ProducerSettings(ComponentSettings, ImageAccess):
    """Limits, allow-lists and batching for `roadwatch produce` (limits and allow-lists from ImageAccess)."""

    section: ClassVar[str] = "producer"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_PRODUCER_", frozen=True, extra="forbid")

    # Any local file by default: the producer reads what its user names on the command line, while the
    # services read what a record names (and so allow no local file unless told which roots).
    allowed_file_roots: PathList = Field(
        default_factory=lambda: [Path("/")], description="local folders whose files may be read"
    )
    topic: str = IMAGES
    inline_max_bytes: int = Field(0, ge=0, description="send images up to this size inline (0 = never)")
    linger_ms: int = Field(20, ge=0)
    connect_timeout_s: float = Field(10.0, gt=0, description="how long to wait for the broker to answer")
