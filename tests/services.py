"""Start roadwatch services as real subprocesses for integration tests (and kill them like a crash would)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ServiceProcess:
    """One service process in its own process group; `kill()` is SIGKILL to the whole group (what a
    container kill does: no clean shutdown, children such as Flink's JVM included), `stop()` is SIGTERM."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log: Path,
        args: list[str] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.module, self.env, self.log, self.args, self.python = module, env, log, args or [], python
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.python, "-m", self.module, *self.args],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 30) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            self._signal_group(signal.SIGKILL)  # whatever the service left behind
        return self.proc.returncode if self.proc else None

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):  # the group is already gone
            os.killpg(self.proc.pid, sig)

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
