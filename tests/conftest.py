"""Fixtures shared by every suite. The broker, topic, client and catalog fixtures are roadwatch's own pytest
plugin (`roadwatch.testing`, the same one users get): an existing cluster (`KAFKA_BOOTSTRAP_SERVERS`), a
testcontainers Kafka when a Docker engine answers, else the project's own local broker (started once per
session on its own ports and stopped afterwards). Here the testcontainers image defaults to the one
`make images` builds (roadwatch-kafka), not apache/kafka: no registry is reachable on these machines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roadwatch.settings import SHARED_DIR
from roadwatch.stack import versions
from roadwatch.testing.brokers import Broker
from roadwatch.testing.settings import TestingSettings

# registered under its module name: where the entry point has registered it already, this is a no-op
pytest_plugins = ["roadwatch.testing.plugin"]
__all__ = ["Broker"]
LOCAL_KAFKA_IMAGE = f"roadwatch-kafka:{versions.KAFKA}"


@pytest.fixture(scope="session")
def roadwatch_testing() -> TestingSettings:
    """The plugin's settings with this repository's Kafka image unless ROADWATCH_TESTING_KAFKA_IMAGE says."""
    settings = TestingSettings()
    if "ROADWATCH_TESTING_KAFKA_IMAGE" in os.environ:
        return settings
    return settings.model_copy(update={"kafka_image": LOCAL_KAFKA_IMAGE})


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared models/datasets not found at {SHARED_DIR}")
    return SHARED_DIR
