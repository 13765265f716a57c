"""Start roadwatch services as real subprocesses for integration tests (and kill them like a crash would)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from roadwatch.process import GroupProcess
from roadwatch.settings import ROOT


class ServiceProcess(GroupProcess):
    """`python -m module` in its own process group; `kill()` is SIGKILL to the whole group (what a container
    kill does: no clean shutdown, children such as Flink's JVM included), `stop()` is SIGTERM, then whatever
    the service left behind is killed."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log: Path,
        args: list[str] | None = None,
        python: str = sys.executable,
    ) -> None:
        super().__init__([python, "-m", module, *(args or [])], ROOT, {**os.environ, **env}, log)

    def start(self) -> ServiceProcess:
        super().start()
        return self


@contextmanager
def running(
    module: str, env: dict[str, str], log: Path, args: list[str] | None = None
) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(module, env, log, args).start()
    try:
        yield svc
    finally:
        svc.stop()
