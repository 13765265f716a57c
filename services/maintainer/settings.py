"""Maintainer settings (`ROADWATCH_MAINTAINER_*`): which tables, how often, the file-size target, retention
(the catalog: `roadwatch.iceberg.settings`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from roadwatch.settings import METRICS_PORTS, ComponentSettings
from schemas.tables import TABLES


class MaintainerSettings(ComponentSettings):
    section: ClassVar[str] = "maintainer"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_MAINTAINER_", frozen=True, extra="forbid")

    # the namespace's tables to tend (a JSON list); one maintainer per namespace
    tables: list[str] = Field(default_factory=lambda: list(TABLES))
    interval_s: float = Field(5.0, gt=0)  # how often it looks
    target_file_bytes: int = Field(64 * 2**20, ge=4096)  # a file below half of this is small
    min_small_files: int = Field(4, ge=2)  # merge a partition's size tier once it holds this many
    quiet_s: float = Field(60.0, ge=0)  # a partition quiet this long: all its small files merged
    max_merges_per_round: int = Field(8, ge=1)  # keeps a round short; the rest waits for the next
    # snapshots superseded longer ago than this are expired (outside the chain the sink resumes from): the
    # time a reader may go on reading the snapshot it started on
    snapshot_retention_s: float = Field(30.0, ge=0)
    delete_expired_files: bool = True  # delete the files only expired snapshots referenced
    hold_before_commit_s: float = Field(0.0, ge=0)  # tests: a pause between writing a merge and committing it
    metrics_port: int = Field(METRICS_PORTS["maintainer"], ge=0, le=65535)

    @field_validator("tables")
    @classmethod
    def _known(cls, tables: list[str]) -> list[str]:
        if unknown := sorted(set(tables) - set(TABLES)):
            raise ValueError(f"{unknown} are not roadwatch tables (those are {list(TABLES)})")
        if not tables:
            raise ValueError("name at least one table")
        return list(dict.fromkeys(tables))
