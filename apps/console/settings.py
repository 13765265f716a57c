"""The console's settings (`ROADWATCH_CONSOLE_*`): where it listens, the token it wants off loopback, which
images it may show (the services' own allow-lists and limits), and the topic its live feed follows."""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from roadwatch.images.access import ImageAccess
from roadwatch.kafka.topics import THRESHOLDS, VERDICTS
from roadwatch.settings import ComponentSettings

LOOPBACK_NAMES = ("localhost",)


class ConsoleSettings(ComponentSettings, ImageAccess):
    section: ClassVar[str] = "console"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_CONSOLE_", frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8099, ge=0, le=65535)
    token: SecretStr | None = Field(
        None, description="required of every request (header or login) when host is not loopback"
    )
    verdicts_topic: str = VERDICTS
    thresholds_topic: str = THRESHOLDS
    live: bool = Field(True, description="follow Kafka for the live feed and the cameras' bands")
    page_rows: int = Field(200, ge=1, le=1000, description="verdicts on the Overview and Decisions pages")
    thumbnail_px: int = Field(320, ge=32, le=2048)
    labelled_by: str = Field(
        "console", min_length=1, max_length=256, description="who the Event page's labels name"
    )

    @model_validator(mode="after")
    def _token_off_loopback(self) -> ConsoleSettings:
        if not self.loopback and (self.token is None or len(self.token.get_secret_value()) < 16):
            raise ValueError(
                f"host {self.host} is reachable from other machines: set token (ROADWATCH_CONSOLE_TOKEN, "
                "16 characters or more) or bind 127.0.0.1"
            )
        return self

    @property
    def loopback(self) -> bool:
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: it may resolve to anything
