"""Settings of the local stack (`ROADWATCH_STACK_*`).

With `sasl_port` set, the broker's only client listener is SASL_PLAINTEXT (PLAIN) on that port, with the
`sasl_users` (`ROADWATCH_STACK_SASL_USERS='{"camfleet": "..."}'`); the first user by name is also the
broker's own identity on it. `plaintext_with_sasl=true` keeps the unauthenticated PLAINTEXT listener on
`port` beside it. The KRaft controller listener stays PLAINTEXT on `controller_port`, on `host` only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from roadwatch.settings import DEFAULT_HOME, ComponentSettings, KafkaSettings

_USER = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')  # would break out of the JAAS string or the properties line


class StackSettings(ComponentSettings):
    """Where the local broker lives, which Kafka it runs and how topics are made."""

    section: ClassVar[str] = "stack"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_STACK_", frozen=True, extra="forbid")

    home: Path = DEFAULT_HOME / "stack"
    cache_dir: Path = Path.home() / ".cache" / "roadwatch"
    kafka_version: str = "4.1.1"
    host: str = "127.0.0.1"
    port: int = Field(19092, ge=1, le=65535)
    controller_port: int = Field(19093, ge=1, le=65535)
    partitions: int = Field(3, ge=1)
    retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=60_000)
    heap: str = "1g"
    sasl_port: int | None = Field(None, ge=1, le=65535, description="SASL_PLAINTEXT (PLAIN) listener")
    sasl_users: dict[str, SecretStr] = Field(default_factory=dict)
    plaintext_with_sasl: bool = Field(False, description="keep the PLAINTEXT listener open beside SASL")
    start_timeout_s: float = 90.0

    @model_validator(mode="after")
    def _sasl_users_usable(self) -> StackSettings:
        if self.sasl_port is not None and not self.sasl_users:
            raise ValueError("sasl_port needs at least one of sasl_users (the broker itself logs in as one)")
        for user, password in self.sasl_users.items():
            if not _USER.fullmatch(user):
                raise ValueError(f"sasl_users: user name {user!r} is not letters, digits, '.', '_', '-'")
            if _UNSAFE.search(password.get_secret_value()):
                raise ValueError(f"sasl_users: the password of {user} has a quote, backslash or control char")
        return self

    @property
    def sasl_only(self) -> bool:
        """Whether SASL is the only client listener (PLAINTEXT off)."""
        return self.sasl_port is not None and not self.plaintext_with_sasl

    @property
    def bootstrap(self) -> str:
        """The address clients reach: the PLAINTEXT listener, or the SASL one when it is the only one."""
        return f"{self.host}:{self.sasl_port if self.sasl_only else self.port}"

    @property
    def broker_user(self) -> tuple[str, SecretStr] | None:
        """The identity the broker uses on its own SASL listener: the first of `sasl_users` by name."""
        if not self.sasl_users:
            return None
        user = min(self.sasl_users)
        return user, self.sasl_users[user]

    def client_settings(self) -> KafkaSettings:
        """Settings for a client of this stack (admin, tests): PLAINTEXT at `bootstrap`, or, when SASL is
        the only listener, SASL_PLAINTEXT/PLAIN as `broker_user`."""
        if not self.sasl_only or self.broker_user is None:
            return KafkaSettings(bootstrap_servers=self.bootstrap)
        user, password = self.broker_user
        return KafkaSettings(
            bootstrap_servers=self.bootstrap,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username=user,
            sasl_password=password,
        )

    @property
    def data_dir(self) -> Path:
        return self.home / "kafka-data"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"
