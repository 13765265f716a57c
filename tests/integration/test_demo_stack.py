"""`roadwatch demo` on a stack it did not start: a demo that fails (no models where it is told to look)
says why in one line and leaves that broker running, topics and all; on a stack it started itself it stops
the broker again (the CLI's own `stack up` / `stack down` on free ports of the test's own stack)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roadwatch.ports import free_ports
from roadwatch.settings import ROOT
from roadwatch.stack import control
from roadwatch.stack.settings import StackSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    port, controller = free_ports(2)
    return {
        "ROADWATCH_STACK_HOME": str(tmp_path / "stack"),
        "ROADWATCH_STACK_PORT": str(port),
        "ROADWATCH_STACK_CONTROLLER_PORT": str(controller),
        "ROADWATCH_STACK_PARTITIONS": "1",
        "ROADWATCH_STACK_HEAP": "512m",
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "ROADWATCH_HOME": str(tmp_path / "home"),
    }


def _cli(env: dict[str, str], *args: str, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apps.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _stack(env: dict[str, str]) -> StackSettings:
    return StackSettings(
        home=Path(env["ROADWATCH_STACK_HOME"]),
        port=int(env["ROADWATCH_STACK_PORT"]),
        controller_port=int(env["ROADWATCH_STACK_CONTROLLER_PORT"]),
    )


def test_a_failed_demo_leaves_the_broker_it_did_not_start_and_stops_its_own(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    stack = _stack(stack_env)
    try:
        assert _cli(stack_env, "stack", "up").returncode == 0
        failed = _cli(stack_env, "demo", "--models", str(tmp_path / "nonexistent"), "--timeout", "5")
        assert failed.returncode != 0
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith("roadwatch: error: ") and "not found" in last, failed.stderr[-2000:]
        assert "Traceback" not in failed.stderr
        assert control.running(stack), "the demo stopped a broker it did not start"

        assert _cli(stack_env, "stack", "down").returncode == 0
        assert not control.running(stack)
        again = _cli(stack_env, "demo", "--models", str(tmp_path / "nonexistent"), "--timeout", "5")
        assert again.returncode != 0
        assert not control.running(stack), "the demo left running the broker it started"
    finally:
        control.down(stack, wipe=True)
