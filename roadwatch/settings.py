"""Settings once, passed down: one frozen class per component, env prefix per component, optional TOML file.

Precedence: explicit arguments > environment (`ROADWATCH_<COMPONENT>_<FIELD>`) > the `[<component>]` table of
the file named by `ROADWATCH_CONFIG` > the profile's (`ROADWATCH_PROFILE`: `embedded`, the default, has none;
`cluster` points every client at the cluster stack) > defaults. A malformed value fails loudly at start-up.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from roadwatch.errors import ConfigError

DEFAULT_HOME = Path(os.environ.get("ROADWATCH_HOME", Path.home() / ".roadwatch"))
ROOT = Path(__file__).resolve().parents[1]  # the checkout: scripts/, .venv-flink/
SHARED_DIR = ROOT.parent / "shared"  # the shared models and datasets, beside the checkout
MODELS_DIR = SHARED_DIR / "models"
DATASETS_DIR = SHARED_DIR / "datasets"
# Each service's metrics/readiness port on one host (the embedded stack runs them side by side)
METRICS_PORTS = {
    "detector": 9101,
    "vlm-fast": 9102,
    "vlm-power": 9112,
    "vlm-precision": 9122,
    "sink": 9103,
    "flink": 9104,
    "maintainer": 9105,
}


PROFILES = ("embedded", "cluster")
PROFILE_DIR = Path(__file__).resolve().parent / "profiles"  # <profile>.toml: a profile's defaults


def profile() -> str:
    """The stack the settings point at: `ROADWATCH_PROFILE` (`roadwatch --profile`), default `embedded`."""
    name = os.environ.get("ROADWATCH_PROFILE", "embedded") or "embedded"
    if name not in PROFILES:
        raise ConfigError(f"ROADWATCH_PROFILE={name!r} is not one of {list(PROFILES)}")
    return name


def profile_home(name: str) -> Path:
    """Where a profile's local stack keeps its data: the embedded one's is ROADWATCH_HOME itself."""
    return DEFAULT_HOME if name == "embedded" else DEFAULT_HOME / name


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {what}={path}: {exc}") from exc


def _documents() -> list[tuple[str, dict[str, Any]]]:
    """The TOML documents settings fall back on, strongest first: the file named by ROADWATCH_CONFIG, then
    the profile's secrets its `stack up` wrote (`<profile home>/credentials.toml`), then its shipped
    defaults (`roadwatch/profiles/<profile>.toml`)."""
    docs = []
    path = os.environ.get("ROADWATCH_CONFIG")
    if path:
        docs.append((path, _read_toml(Path(path), "ROADWATCH_CONFIG")))
    name = profile()
    for candidate in (profile_home(name) / "credentials.toml", PROFILE_DIR / f"{name}.toml"):
        if name != "embedded" and candidate.is_file():
            docs.append((str(candidate), _read_toml(candidate, f"the {name} profile's file")))
    return docs


class _TomlSection(PydanticBaseSettingsSource):
    """Reads one table of the TOML documents settings fall back on (`_documents`), the strongest first."""

    def __init__(self, settings_cls: type[BaseSettings], section: str) -> None:
        super().__init__(settings_cls)
        self._values: dict[str, Any] = {}
        # a sub-table is a nested settings model's (e.g. [vlm.breaker]) or another section's ([vlm.fast])
        fields = settings_cls.model_fields
        for path, data in _documents():
            table: object = data
            for part in section.split("."):
                table = table.get(part, {}) if isinstance(table, dict) else {}
            if not isinstance(table, dict):
                raise ConfigError(f"[{section}] in {path} must be a table")
            for key, value in table.items():
                if not isinstance(value, dict) or key in fields:
                    self._values.setdefault(key, value)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def toml_section(settings_cls: type[BaseSettings], section: str) -> PydanticBaseSettingsSource:
    """A settings source for the `[section]` table (dotted for nested tables) of ROADWATCH_CONFIG, and of
    the profile's files below it."""
    return _TomlSection(settings_cls, section)


class ComponentSettings(BaseSettings):
    """Base for every component's settings; subclasses set `section` and an env prefix."""

    section: ClassVar[str] = ""
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, *cls.fallback_sources(settings_cls))

    @classmethod
    def fallback_sources(cls, settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
        """What fills a field the arguments and the component's own environment leave unset, in order: the
        component's table of the config file (a subclass may put a shared prefix or table before it)."""
        return (_TomlSection(settings_cls, cls.section),)


class KafkaSettings(ComponentSettings):
    """How every roadwatch client reaches Kafka; security settings pass straight through to librdkafka.
    The bootstrap servers also honour the conventional `KAFKA_BOOTSTRAP_SERVERS` when
    `ROADWATCH_KAFKA_BOOTSTRAP_SERVERS` is unset."""

    section: ClassVar[str] = "kafka"
    model_config = SettingsConfigDict(
        env_prefix="ROADWATCH_KAFKA_", frozen=True, extra="forbid", populate_by_name=True
    )

    bootstrap_servers: str = Field(
        "127.0.0.1:19092",
        validation_alias=AliasChoices(
            "bootstrap_servers", "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    client_id: str = "roadwatch"
    # how long a consumer may stay out of its group (revoked, not assigned again) before its service exits
    # for a restart: past the longest a rebalance may keep it waiting (the group waits for its slowest
    # member up to librdkafka's max.poll.interval.ms, 300 s), with room to rejoin
    rejoin_timeout_s: float = Field(330.0, gt=0)

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka configuration for a client, with `overrides` applied last."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "client.id": self.client_id,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        conf.update(overrides)
        return conf
