"""A local broker that cannot start says why at once: a JVM that exits fails `stack up` with its own words,
not with a timeout a minute and a half later."""

import time
from pathlib import Path

import pytest

from roadwatch.errors import StackError
from roadwatch.ports import free_ports
from roadwatch.stack import control
from roadwatch.stack.settings import StackSettings

pytestmark = pytest.mark.integration


def test_a_broker_that_exits_fails_up_at_once_with_what_it_said(tmp_path: Path) -> None:
    port, controller = free_ports(2)
    stack = StackSettings(
        home=tmp_path, port=port, controller_port=controller, heap="1x", start_timeout_s=300
    )
    began = time.monotonic()
    with pytest.raises(StackError, match=r"exited while starting; last lines of .*kafka\.out: .*heap size"):
        control.up(stack)
    assert time.monotonic() - began < 60, "failed at once, not after start_timeout_s"
    assert not control.running(stack)
