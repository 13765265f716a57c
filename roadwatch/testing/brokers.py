"""The test session's Kafka broker, chosen in one order: an existing cluster (`KAFKA_BOOTSTRAP_SERVERS`), a
testcontainers Kafka when a Docker engine answers, else the project's own local broker. Each is a context
manager yielding a `Broker`; `choose` says which one applies and why."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roadwatch.errors import StackError
from roadwatch.kafka.admin import wait_until_ready
from roadwatch.ports import free_port
from roadwatch.stack import broker as stack_broker
from roadwatch.testing.settings import TestingSettings

log = logging.getLogger(__name__)
Kind = Literal["existing", "testcontainers", "local"]


@dataclass(frozen=True)
class Broker:
    """The test session's broker; `outage`/`recover` stop it and start it again with its data (None where
    the tests cannot: an existing cluster named by KAFKA_BOOTSTRAP_SERVERS)."""

    bootstrap: str
    outage: Callable[[], None] | None = None
    recover: Callable[[], None] | None = None


@dataclass(frozen=True)
class Choice:
    kind: Kind
    reason: str


def docker_answers() -> tuple[bool, str]:
    """Whether a Docker engine answers a ping (docker-py installed, `DOCKER_HOST` or the default socket)."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:
        return False, f"the docker package is not installed ({exc})"
    try:
        docker.from_env().ping()
    except DockerException as exc:
        return False, f"no Docker engine answers ({str(exc)[:120]})"
    return True, "a Docker engine answers"


def choose(settings: TestingSettings) -> Choice:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return Choice("existing", f"KAFKA_BOOTSTRAP_SERVERS={os.environ['KAFKA_BOOTSTRAP_SERVERS']}")
    if settings.broker == "local":
        return Choice("local", "ROADWATCH_TESTING_BROKER=local")
    answers, why = docker_answers()
    if settings.broker == "testcontainers":
        if not answers:
            raise StackError(f"ROADWATCH_TESTING_BROKER=testcontainers but {why}")
        return Choice("testcontainers", "ROADWATCH_TESTING_BROKER=testcontainers")
    return Choice("testcontainers", why) if answers else Choice("local", why)


def kafka_env(port: int, controller_port: int, partitions: int) -> dict[str, str]:
    """KAFKA_* variables (the apache/kafka image's convention, which roadwatch-kafka shares) for one KRaft
    node on 127.0.0.1, configured like the local broker (`roadwatch.stack.broker.common_properties`)."""
    props = {
        "node.id": "1",
        "process.roles": "broker,controller",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
    }
    for line in stack_broker.common_properties(partitions, replication=1, min_insync=1):
        if line:
            key, _, value = line.partition("=")
            props[key] = value
    return {
        "KAFKA_" + key.replace("_", "__").replace("-", "___").replace(".", "_").upper(): value
        for key, value in props.items()
    }


@contextmanager
def testcontainer(settings: TestingSettings) -> Iterator[Broker]:
    """A Kafka container from `settings.kafka_image` (a local image, or one the engine can pull). With
    `host_network` it runs on the host's network on free loopback ports (no port mapping, so no bridge);
    Ryuk stays off when TESTCONTAINERS_RYUK_DISABLED is set. Removed afterwards."""
    from testcontainers.core.container import DockerContainer

    if not settings.host_network:
        raise StackError("ROADWATCH_TESTING_HOST_NETWORK=false is not supported: the fixtures map no ports")
    port, controller = free_port(), free_port()
    container = DockerContainer(settings.kafka_image).with_kwargs(network_mode="host")
    for key, value in kafka_env(port, controller, settings.partitions).items():
        container.with_env(key, value)
    bootstrap = f"127.0.0.1:{port}"
    container.start()
    try:
        wrapped = container.get_wrapped_container()
        conf = {"bootstrap.servers": bootstrap}
        _ready(lambda: wait_until_ready(conf, settings.start_timeout_s), container)

        def outage() -> None:
            wrapped.stop(timeout=10)  # the broker stops; its data stays in the container

        def recover() -> None:
            wrapped.start()
            wait_until_ready(conf, settings.start_timeout_s)

        log.info("Kafka testcontainer %s on %s (host network)", settings.kafka_image, bootstrap)
        yield Broker(bootstrap, outage, recover)
    finally:
        container.stop()


def _ready(wait: Callable[[], None], container: object) -> None:
    try:
        wait()
    except StackError as exc:
        logs = container.get_logs() if hasattr(container, "get_logs") else (b"", b"")
        tail = b"".join(logs).decode(errors="replace")[-2000:]
        raise StackError(f"the Kafka testcontainer did not answer: {exc}\n{tail}") from exc


@contextmanager
def local_broker(settings: TestingSettings, home: Path) -> Iterator[Broker]:
    """The project's own broker (the embedded stack's jars, Java) on its own ports; wiped afterwards."""
    from roadwatch.stack import control
    from roadwatch.stack.settings import StackSettings

    stack = StackSettings(
        home=settings.local_home or home,
        port=settings.local_port,
        controller_port=settings.local_controller_port,
        heap=settings.local_heap,
        partitions=settings.partitions,
    )

    def outage() -> None:
        control.down(stack)  # the broker process stops; its data stays

    def recover() -> None:
        control.up(stack)

    control.up(stack)
    try:
        yield Broker(stack.bootstrap, outage, recover)
    finally:
        control.down(stack, wipe=True)


@contextmanager
def session_broker(
    settings: TestingSettings, home: Path, announce: Callable[[str], None]
) -> Iterator[Broker]:
    """The broker `choose` picks, announced in one line (`announce`), for the length of the block."""
    choice = choose(settings)
    if choice.kind == "existing":
        announce(f"roadwatch test broker: existing cluster ({choice.reason})")
        yield Broker(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    elif choice.kind == "testcontainers":
        announce(
            f"roadwatch test broker: testcontainers {settings.kafka_image}, host network ({choice.reason})"
        )
        with testcontainer(settings) as b:
            yield b
    else:
        announce(f"roadwatch test broker: local broker on 127.0.0.1:{settings.local_port} ({choice.reason})")
        with local_broker(settings, home) as b:
            yield b
