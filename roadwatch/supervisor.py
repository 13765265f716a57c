"""Supervise the services as local processes: start, wait for readiness, restart on crash, stop cleanly."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from roadwatch.errors import StackError
from roadwatch.process import GroupProcess

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_port: int | None = None
    python: str = sys.executable


@dataclass
class _Running:
    spec: ServiceSpec
    proc: GroupProcess
    restarts: int = 0


class Supervisor:
    """Runs each spec as `python -m ...`, logs to `<logs>/<name>.log`, restarts what dies."""

    def __init__(self, specs: list[ServiceSpec], logs: Path, cwd: Path) -> None:
        self.specs, self.logs, self.cwd = specs, logs, cwd
        self.running: dict[str, _Running] = {}

    def _spawn(self, spec: ServiceSpec) -> GroupProcess:
        argv, env = [spec.python, *spec.args], {**os.environ, **spec.env}
        return GroupProcess(argv, self.cwd, env, self.logs / f"{spec.name}.log").start()

    def start(self) -> None:
        for spec in self.specs:
            self.running[spec.name] = _Running(spec, self._spawn(spec))
            log.info("started %s (pid %d)", spec.name, self.running[spec.name].proc.pid)

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        """Block until every service with a readiness port answers `/ready` with 200."""
        deadline = time.monotonic() + timeout_s
        pending = {s.name for s in self.specs if s.ready_port}
        while pending and time.monotonic() < deadline:
            self.check()
            for name in sorted(pending):
                port = self.running[name].spec.ready_port
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    continue
            time.sleep(0.5)
        if pending:
            raise StackError(f"not ready after {timeout_s}s: {sorted(pending)} (see {self.logs})")

    def check(self, max_restarts: int = 5) -> None:
        """Restart services that exited; give up loudly after `max_restarts` for one service."""
        for name, r in self.running.items():
            if r.proc.alive():
                continue
            code = r.proc.returncode
            if r.restarts >= max_restarts:
                logfile = self.logs / f"{name}.log"
                raise StackError(f"{name} keeps exiting (code {code}): {last_line(logfile)} (see {logfile})")
            log.warning("%s exited with %s; restarting", name, code)
            r.proc, r.restarts = self._spawn(r.spec), r.restarts + 1

    def watch(self, stop: threading.Event, every_s: float = 2.0) -> None:
        """Restart what exits (`check`) until `stop` is set."""
        while not stop.wait(every_s):
            self.check()

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to every service at once, then each one's whole process group is stopped."""
        for r in self.running.values():
            if r.proc.alive():
                r.proc.terminate()
        deadline = time.monotonic() + timeout_s
        for r in self.running.values():
            r.proc.stop(max(0.1, deadline - time.monotonic()))
        self.running.clear()


def last_line(path: Path, tail_bytes: int = 4096) -> str:
    """The last non-blank line of a log (what a service that exits says last: its one-line error)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - tail_bytes))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as exc:
        return f"(its log cannot be read: {exc.strerror or exc})"
    return next((line.strip() for line in reversed(lines) if line.strip()), "(its log is empty)")
