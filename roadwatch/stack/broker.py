"""Start, stop and inspect the single-node KRaft broker of the local stack (by pid file)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from pydantic import SecretStr

from roadwatch.errors import StackError
from roadwatch.ports import taken
from roadwatch.stack.daemon import Daemon, java, log4j2_config
from roadwatch.stack.jars import kafka_classpath
from roadwatch.stack.settings import StackSettings

log = logging.getLogger(__name__)
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _client_listeners(s: StackSettings) -> list[tuple[str, int]]:
    """PLAINTEXT on `port` unless SASL is the only one, SASL_PLAINTEXT on `sasl_port`; the first is the
    inter-broker one."""
    client: list[tuple[str, int]] = [] if s.sasl_only else [("PLAINTEXT", s.port)]
    if s.sasl_port is not None:
        client.append(("SASL_PLAINTEXT", s.sasl_port))
    return client


def listener_ports(s: StackSettings) -> list[int]:
    """Every port the broker listens on: the client listeners', then the controller's."""
    return [port for _, port in _client_listeners(s)] + [s.controller_port]


def _listeners(s: StackSettings) -> list[str]:
    """The client listeners and the KRaft controller's."""
    client = _client_listeners(s)
    advertised = ",".join(f"{name}://{s.host}:{port}" for name, port in client)
    protocols = ",".join(f"{name}:{name}" for name, _ in client)
    controller = "SASL_PLAINTEXT" if s.sasl_only else "PLAINTEXT"
    return [
        f"listeners={advertised},CONTROLLER://{s.host}:{s.controller_port}",
        f"advertised.listeners={advertised}",
        "controller.listener.names=CONTROLLER",
        f"inter.broker.listener.name={client[0][0]}",
        f"listener.security.protocol.map={protocols},CONTROLLER:{controller}",
    ]


def _jaas(users: dict[str, SecretStr], login: tuple[str, SecretStr] | None) -> str:
    """A PLAIN login module line: the users who may log in, and who the broker is when it is the client."""
    logs_in = f'username="{login[0]}" password="{login[1].get_secret_value()}" ' if login else ""
    known = " ".join(f'user_{u}="{p.get_secret_value()}"' for u, p in sorted(users.items()))
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {logs_in}{known};"


def _sasl(s: StackSettings) -> list[str]:
    """PLAIN on the SASL listener with the configured users, when `sasl_port` is set. When it is the only
    client listener the broker talks to itself over it too, as `s.broker_user`, and the controller listener is
    SASL as well, for the broker user only: the broker registers and heartbeats there as that user (a super
    user), and no unauthenticated client reaches the controller."""
    if s.sasl_port is None:
        return []
    lines = ["sasl.enabled.mechanisms=PLAIN"]
    login = s.broker_user if s.sasl_only else None
    if login is not None:
        lines.append("sasl.mechanism.inter.broker.protocol=PLAIN")
    lines.append(f"listener.name.sasl_plaintext.plain.sasl.jaas.config={_jaas(s.sasl_users, login)}")
    if login is not None:
        lines += [
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={_jaas(dict([login]), login)}",
        ]
    return lines


def _authorizer(s: StackSettings) -> list[str]:
    """With SASL on, every request is authorized and nothing is allowed without an ACL, except to the super
    users: the broker's own user and, with `plaintext_with_sasl`, `User:ANONYMOUS`, who the unauthenticated
    PLAINTEXT listener's clients (and the broker, inter-broker there) are."""
    if s.sasl_port is None or s.broker_user is None:
        return []
    supers = [f"User:{s.broker_user[0]}", *([] if s.sasl_only else ["User:ANONYMOUS"])]
    return [
        f"authorizer.class.name={AUTHORIZER}",
        f"super.users={';'.join(supers)}",
        "allow.everyone.if.no.acl.found=false",
    ]


def server_properties(s: StackSettings) -> str:
    """The broker+controller configuration for one node on `s.host`: PLAINTEXT, or SASL (with PLAINTEXT
    beside it only when `plaintext_with_sasl`). It holds the SASL passwords: `write_private` it."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={s.host}:{s.controller_port}",
            *_listeners(s),
            *_sasl(s),
            *_authorizer(s),
            f"log.dirs={s.data_dir}",
            *common_properties(s.partitions, replication=1, min_insync=1),
        ]
    )


def common_properties(partitions: int, *, replication: int, min_insync: int) -> list[str]:
    """What every node of a local stack sets: internal topics on `replication` nodes, no auto-created
    topics, long transactions allowed, no rebalance delay (tests and demos start consumers often)."""
    return [
        f"num.partitions={partitions}",
        f"default.replication.factor={replication}",
        f"min.insync.replicas={min_insync}",
        f"offsets.topic.replication.factor={replication}",
        f"transaction.state.log.replication.factor={replication}",
        f"transaction.state.log.min.isr={min_insync}",
        f"share.coordinator.state.topic.replication.factor={replication}",
        f"share.coordinator.state.topic.min.isr={min_insync}",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        "transaction.max.timeout.ms=900000",
        "",
    ]


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (mode 0600, an existing file's mode included)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(fd, 0o600)
        out.write(text)


def daemon(s: StackSettings) -> Daemon:
    """The embedded broker's process: `kafka.pid`, `kafka.log` under the stack's home."""
    return Daemon("kafka", s.home)


def running_pid(s: StackSettings) -> int | None:
    """The broker's pid if the pid file names a live process, else None."""
    return daemon(s).running_pid()


def format_storage(
    libs: Path, props: Path, data_dir: Path, cluster_id: str | None, *, standalone: bool
) -> None:
    """Format a node's KRaft storage (`standalone`: a one-voter quorum of its own) unless done before; a
    new cluster id is drawn when `cluster_id` is None."""
    if (data_dir / "meta.properties").exists():
        return
    argv = [java(), "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format"]
    argv += [
        *(["--standalone"] if standalone else []),
        "-t",
        cluster_id or new_cluster_id(libs),
        "-c",
        str(props),
    ]
    fmt = subprocess.run(argv, capture_output=True, text=True, check=False)
    if fmt.returncode != 0:
        raise StackError(f"formatting KRaft storage failed: {fmt.stdout}{fmt.stderr}")


def new_cluster_id(libs: Path) -> str:
    """A fresh KRaft cluster id (Kafka's own random-uuid)."""
    out = subprocess.run(
        [java(), "-cp", f"{libs}/*", "kafka.tools.StorageTool", "random-uuid"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def start_node(node: Daemon, libs: Path, props: Path, heap: str) -> int:
    """Start one Kafka node detached, logging through log4j2 to `node.log_file` (rotated)."""
    log4j = node.home / f"{node.name}-log4j2.properties"
    node.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    log4j.write_text(log4j2_config(node.log_file))
    return node.start(
        [
            java(),
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(props),
        ]
    )


def start(s: StackSettings) -> int:
    """Resolve jars, format storage on first use, start the broker detached; returns its pid."""
    pid = running_pid(s)
    if pid is not None:
        return pid
    busy = taken(s.host, listener_ports(s))
    if busy:
        raise StackError(
            f"cannot start Kafka: port {', '.join(map(str, busy))} on {s.host} is held by another process;"
            " stop it, or choose free ports (ROADWATCH_STACK_PORT, ROADWATCH_STACK_CONTROLLER_PORT,"
            " ROADWATCH_STACK_SASL_PORT)"
        )
    libs = kafka_classpath(s.cache_dir, s.kafka_version)
    s.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    props = s.home / "server.properties"
    write_private(props, server_properties(s))
    format_storage(libs, props, s.data_dir, None, standalone=True)
    pid = start_node(daemon(s), libs, props, s.heap)
    log.info("Kafka %s on %s", s.kafka_version, s.bootstrap)
    return pid


def exited(s: StackSettings) -> str | None:
    """Why the broker `start` launched can no longer answer (it exited, and what it said), or None while it
    runs."""
    if running_pid(s) is not None:
        return None
    return f"Kafka on {s.bootstrap} exited while starting; {daemon(s).last_words()}"


def stop(s: StackSettings, timeout_s: float = 30.0) -> bool:
    """Stop the broker `start` launched; True if one was running."""
    return daemon(s).stop(timeout_s)


def wipe(s: StackSettings) -> None:
    """Remove the broker's data and logs (the stack must be down)."""
    if running_pid(s) is not None:
        raise StackError("refusing to wipe a running stack; run `roadwatch stack down` first")
    if s.home.exists():
        shutil.rmtree(s.home)
