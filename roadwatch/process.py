"""A child process in a process group of its own, so that stopping it also stops what it started (the Flink
job's JVM, Python workers): the supervisor, the benchmarks and the test harness start services this way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO


class GroupProcess:
    """`argv` in its own session; output appended to `log` (or discarded)."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path | None = None) -> None:
        self.argv, self.cwd, self.env, self.log = argv, cwd, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GroupProcess:
        if self.log is None:
            self.proc = self._popen(subprocess.DEVNULL)
        else:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with self.log.open("ab") as out:
                self.proc = self._popen(out)
        return self

    def _popen(self, out: int | IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("not started")
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the process alone: it shuts down cleanly and stops its own children."""
        if self.proc is not None and self.alive():
            self.proc.terminate()

    def kill(self) -> None:
        """SIGKILL to the whole group, as a container kill or a power cut would do: no clean shutdown."""
        if self.alive():
            self._signal_group(signal.SIGKILL)
            self._wait(10)

    def stop(self, timeout_s: float = 30) -> int | None:
        """SIGTERM to the process, SIGKILL if it has not exited within `timeout_s`; then SIGKILL whatever
        of its group is left, and wait until the group is gone."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._signal_group(signal.SIGKILL)
        self._wait_group_gone(10)
        return self.proc.returncode

    def _wait(self, timeout_s: float) -> None:
        assert self.proc is not None
        self.proc.wait(timeout_s)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is already gone
            os.killpg(self.pid, sig)

    def _wait_group_gone(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and group_alive(self.pid):
            time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in group `pgid`: Linux's /proc where there is one, else
    any process at all."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if state != "Z" and int(pgrp) == pgid:
            return True
    return False
