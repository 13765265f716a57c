"""The detached-process handle the stacks start their JVMs with: a SIGKILLed child of this very process
(the cluster suite kills and restarts brokers it started) counts as gone, so it can be started again."""

import signal
import time
from pathlib import Path

from roadwatch.stack.daemon import Daemon


def test_a_killed_child_is_gone_and_starts_again(tmp_path: Path) -> None:
    d = Daemon("sleeper", tmp_path)
    first = d.start(["sleep", "60"])
    assert d.running_pid() == first
    assert d.signal(signal.SIGKILL)
    time.sleep(0.5)  # dead, not reaped yet: a zombie of this process
    second = d.start(["sleep", "60"])
    try:
        assert second != first and d.running_pid() == second
    finally:
        assert d.stop(5)
    assert d.running_pid() is None
