"""The profile's local stack behind one face, for what starts the pipeline on it (`run all`, `demo`,
benches): the embedded one (a broker) or the cluster (`roadwatch.stack.cluster`)."""

from __future__ import annotations

from dataclasses import dataclass

from roadwatch.settings import KafkaSettings, profile
from roadwatch.stack import control
from roadwatch.stack.cluster import control as cluster
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.settings import StackSettings


@dataclass(frozen=True)
class LocalStack:
    """`profile`'s stack. `runs_flink`: the Flink job is part of the stack (cluster), not a service."""

    profile: str

    @property
    def runs_flink(self) -> bool:
        return self.profile == "cluster"

    def running(self) -> bool:
        if self.profile == "cluster":
            return cluster.running(ClusterSettings())
        return control.running(StackSettings())

    def up(self) -> KafkaSettings:
        """Start what is not running, wait until it answers; the client settings of this profile."""
        if self.profile == "cluster":
            cluster.up(ClusterSettings(), {"ROADWATCH_PROFILE": "cluster"})
            return KafkaSettings()
        return control.up(StackSettings())

    def down(self) -> None:
        if self.profile == "cluster":
            cluster.down(ClusterSettings())
        else:
            control.down(StackSettings())


def current() -> LocalStack:
    """The stack of `ROADWATCH_PROFILE`."""
    return LocalStack(profile())
