"""Start roadwatch services as real subprocesses for integration tests (and kill them like a crash would)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ServiceProcess:
    """One service process; `kill()` is SIGKILL (no clean shutdown), `stop()` is SIGTERM."""

    def __init__(self, module: str, env: dict[str, str], log: Path, args: list[str] | None = None) -> None:
        self.module, self.env, self.log, self.args = module, env, log, args or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout_s: float = 30) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextmanager
def running(
    module: str, env: dict[str, str], log: Path, args: list[str] | None = None
) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(module, env, log, args).start()
    try:
        yield svc
    finally:
        svc.stop()
