"""Start, stop and inspect the single-node KRaft broker of the local stack (by pid file)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pydantic import SecretStr

from roadwatch.errors import StackError
from roadwatch.stack.jars import kafka_classpath
from roadwatch.stack.settings import StackSettings

log = logging.getLogger(__name__)
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _listeners(s: StackSettings) -> list[str]:
    """The client listeners (PLAINTEXT on `port` unless SASL is the only one, SASL_PLAINTEXT on `sasl_port`)
    and the KRaft controller's; the first client listener is the inter-broker one."""
    client: list[tuple[str, int]] = [] if s.sasl_only else [("PLAINTEXT", s.port)]
    if s.sasl_port is not None:
        client.append(("SASL_PLAINTEXT", s.sasl_port))
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
            f"num.partitions={s.partitions}",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "transaction.max.timeout.ms=900000",
            "",
        ]
    )


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (mode 0600, an existing file's mode included)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(fd, 0o600)
        out.write(text)


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java:
        raise StackError(
            "Java 17+ is needed to run the local Kafka broker; set JAVA_HOME or put java on PATH"
        )
    return java


def running_pid(s: StackSettings) -> int | None:
    """The broker's pid if the pid file names a live process, else None."""
    try:
        pid = int(s.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def start(s: StackSettings) -> int:
    """Resolve jars, format storage on first use, start the broker detached; returns its pid."""
    pid = running_pid(s)
    if pid is not None:
        return pid
    libs = kafka_classpath(s.cache_dir, s.kafka_version)
    s.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    props = s.home / "server.properties"
    write_private(props, server_properties(s))
    cp = f"{libs}/*"
    java = _java()
    if not (s.data_dir / "meta.properties").exists():
        cluster_id = (
            subprocess.run(
                [java, "-cp", cp, "kafka.tools.StorageTool", "random-uuid"],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        fmt = subprocess.run(
            [
                java,
                "-cp",
                cp,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(props),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise StackError(f"formatting KRaft storage failed: {fmt.stdout}{fmt.stderr}")
    with s.log_file.open("ab") as out:
        proc = subprocess.Popen(
            [
                java,
                f"-Xmx{s.heap}",
                f"-Xms{s.heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                "-cp",
                cp,
                "kafka.Kafka",
                str(props),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    s.pid_file.write_text(str(proc.pid))
    log.info("started Kafka %s (pid %d) on %s; log %s", s.kafka_version, proc.pid, s.bootstrap, s.log_file)
    return proc.pid


def stop(s: StackSettings, timeout_s: float = 30.0) -> bool:
    """Stop the broker `start` launched; True if one was running."""
    pid = running_pid(s)
    if pid is None:
        s.pid_file.unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and running_pid(s) is not None:
        time.sleep(0.2)
        _reap(pid)
    if running_pid(s) is not None:
        os.killpg(pid, signal.SIGKILL)
        _reap(pid)
    s.pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the broker is our own child (otherwise it is not ours to reap)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return


def wipe(s: StackSettings) -> None:
    """Remove the broker's data and logs (the stack must be down)."""
    if running_pid(s) is not None:
        raise StackError("refusing to wipe a running stack; run `roadwatch stack down` first")
    if s.home.exists():
        shutil.rmtree(s.home)
