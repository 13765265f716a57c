"""Settings of the local stack (`ROADWATCH_STACK_*`).

With `sasl_port` set, the broker's only client listener is SASL_PLAINTEXT (PLAIN) on that port, with the
`sasl_users` (`ROADWATCH_STACK_SASL_USERS='{"camfleet": "..."}'`); the first user by name is also the
broker's own identity on it. `plaintext_with_sasl=true` keeps the unauthenticated PLAINTEXT listener on
`port` beside it. The KRaft controller listener is on `controller_port`, on `host` only: SASL too (the broker
user only) when SASL is the only client listener, else PLAINTEXT.

With SASL on, the broker authorizes every request (StandardAuthorizer, nothing allowed without an ACL): its
own user is the super user (with `plaintext_with_sasl`, the unauthenticated PLAINTEXT listener's
`User:ANONYMOUS` too, so that listener stays as open as it was). `service_users`
(`ROADWATCH_STACK_SERVICE_USERS='{"detector": "detector", "vlm-fast": "vlm-fast"}'`) names the user of
`sasl_users` each service logs in as; `roadwatch stack up` then grants each only what it needs
(`roadwatch.stack.acls`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from roadwatch.settings import DEFAULT_HOME, ComponentSettings, KafkaSettings
from roadwatch.stack import versions
from roadwatch.stack.acls import SERVICES

_USER = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')  # would break out of the JAAS string or the properties line


class StackSettings(ComponentSettings):
    """Where the local broker lives, which Kafka it runs and how topics are made."""

    section: ClassVar[str] = "stack"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_STACK_", frozen=True, extra="forbid")

    home: Path = DEFAULT_HOME / "stack"
    cache_dir: Path = Path.home() / ".cache" / "roadwatch"
    kafka_version: str = versions.KAFKA
    host: str = "127.0.0.1"
    port: int = Field(19092, ge=1, le=65535)
    controller_port: int = Field(19093, ge=1, le=65535)
    partitions: int = Field(3, ge=1)
    retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=60_000)
    heap: str = "1g"
    sasl_port: int | None = Field(None, ge=1, le=65535, description="SASL_PLAINTEXT (PLAIN) listener")
    sasl_users: dict[str, SecretStr] = Field(default_factory=dict)
    plaintext_with_sasl: bool = Field(False, description="keep the PLAINTEXT listener open beside SASL")
    service_users: dict[str, str] = Field(
        default_factory=dict, description="service → its user in sasl_users; least-privilege ACLs for each"
    )
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

    @model_validator(mode="after")
    def _service_users_usable(self) -> StackSettings:
        if not self.service_users:
            return self
        if not self.sasl_only:
            raise ValueError(
                "service_users needs SASL as the only client listener (sasl_port set, plaintext_with_sasl"
                " off): anyone on the PLAINTEXT listener is a super user"
            )
        unknown = sorted(set(self.service_users) - set(SERVICES))
        if unknown:
            raise ValueError(f"service_users: unknown services {unknown}; known are {list(SERVICES)}")
        broker = self.broker_user[0] if self.broker_user else None
        for service, user in self.service_users.items():
            if user not in self.sasl_users:
                raise ValueError(f"service_users: {service}'s user {user!r} is not one of sasl_users")
            if user == broker:
                raise ValueError(
                    f"service_users: {service}'s user {user!r} is the broker's own, a super user no ACL binds"
                )
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
