"""Label settings (`ROADWATCH_LABELS_*`): the topic labels go to and who is labelling."""

from __future__ import annotations

import getpass
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from roadwatch.kafka.topics import LABELS
from roadwatch.settings import ComponentSettings


class LabelSettings(ComponentSettings):
    section: ClassVar[str] = "labels"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_LABELS_", frozen=True, extra="forbid")

    topic: str = LABELS
    labelled_by: str = Field(default_factory=getpass.getuser, min_length=1, max_length=256)
    roadwork_classes: list[int] | None = Field(
        None, description="YOLO class ids that mean roadwork (None: every class)"
    )
    delivery_timeout_s: float = Field(30.0, gt=0)
