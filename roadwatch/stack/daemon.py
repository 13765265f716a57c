"""A detached local process the stack starts and stops by pid file: a broker node, the object store, the
catalog, Flink's daemons, Prometheus. Each logs to its own file under the stack's home."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from roadwatch.errors import StackError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Daemon:
    """One process of a stack: `<home>/<name>.pid`, its console output in `<home>/<name>.out` (a JVM's own
    log, rotated by log4j2, is `<home>/<name>.log`)."""

    name: str
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def out_file(self) -> Path:
        return self.home / f"{self.name}.out"

    def running_pid(self) -> int | None:
        """The pid if the pid file names a live process, else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid if not _zombie(pid) else None

    def start(self, argv: list[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start `argv` detached in its own session unless it already runs; returns its pid."""
        pid = self.running_pid()
        if pid is not None:
            return pid
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.out_file.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=None if env is None else {**os.environ, **env},
                cwd=cwd,
            )
        self.pid_file.write_text(str(proc.pid))
        log.info("started %s (pid %d); log %s", self.name, proc.pid, self.log_file)
        return proc.pid

    def last_words(self, lines: int = 3) -> str:
        """Why a process that exited did: the last ERROR lines of its log, else the last lines of its console
        output (where a JVM that never got to logging says why), as one line naming the file."""
        errors = [ln for ln in _tail(self.log_file) if " ERROR " in ln or " FATAL " in ln]
        source, said = (self.log_file, errors) if errors else (self.out_file, _tail(self.out_file))
        if not said:
            return f"it left nothing in {self.log_file} or {self.out_file}"
        return f"last lines of {source}: " + " | ".join(ln.strip() for ln in said[-lines:])

    def signal(self, sig: signal.Signals) -> bool:
        """Send `sig` to the process group; False if it was not running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.killpg(pid, sig)
        return True

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL after `timeout_s`; True if it was running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.running_pid() is not None:
            time.sleep(0.2)
            _reap(pid)
        if self.running_pid() is not None:
            log.warning("%s (pid %d) did not stop within %.0f s: killing it", self.name, pid, timeout_s)
            os.killpg(pid, signal.SIGKILL)
            while self.running_pid() is not None:
                time.sleep(0.1)
                _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def stop_all(daemons: list[Daemon], timeout_s: float = 30.0) -> bool:
    """SIGTERM every one of `daemons` at once, wait for all, SIGKILL what is left after `timeout_s` (a
    quorum's nodes stopped one by one would each wait for the quorum the others already left); True if any
    was running."""
    running = [(d, pid) for d in daemons if (pid := d.running_pid()) is not None]
    for _, pid in running:
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(d.running_pid() is not None for d, _ in running):
        time.sleep(0.2)
    for d, _ in running:
        d.stop(timeout_s=0)
    for d in daemons:
        d.pid_file.unlink(missing_ok=True)
    return bool(running)


def _tail(path: Path, lines: int = 200) -> list[str]:
    """The last `lines` non-blank lines of a text file; none when it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [ln for ln in text.splitlines()[-lines:] if ln.strip()]


def _zombie(pid: int) -> bool:
    """Whether `pid` has exited: reaped just now (our own child after a SIGKILL), or a zombie another
    process has yet to reap."""
    if _reap(pid):
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return False


def _reap(pid: int) -> bool:
    """Collect the exit status when the process is our own child (otherwise it is not ours to reap);
    whether it had exited and is gone now."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return reaped == pid


def java() -> str:
    """The `java` of JAVA_HOME, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    path = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not path:
        raise StackError("Java 17+ is needed to run the local stack; set JAVA_HOME or put java on PATH")
    return path


def logback_config(log_file: Path, level: str = "INFO") -> str:
    """A logback configuration (s3proxy's logger) writing to `log_file`, rotated like `log4j2_config`."""
    return f"""<configuration>
  <appender name="file" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>{log_file}</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>{log_file}.%i</fileNamePattern><minIndex>1</minIndex><maxIndex>5</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>50MB</maxFileSize>
    </triggeringPolicy>
    <encoder><pattern>[%d] %level %msg \\(%logger\\)%n</pattern></encoder>
  </appender>
  <root level="{level}"><appender-ref ref="file"/></root>
</configuration>
"""


def log4j2_config(log_file: Path, level: str = "INFO") -> str:
    """A log4j2 configuration writing to `log_file`, rotated at 50 MB with 5 old files kept."""
    return "\n".join(
        [
            f"rootLogger.level = {level}",
            "rootLogger.appenderRef.file.ref = file",
            "appender.file.type = RollingFile",
            "appender.file.name = file",
            f"appender.file.fileName = {log_file}",
            f"appender.file.filePattern = {log_file}.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 50MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 5",
            "",
        ]
    )
