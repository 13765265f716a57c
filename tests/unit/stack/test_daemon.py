"""The detached-process handle the stacks start their JVMs with: a SIGKILLed child of this very process
(the cluster suite kills and restarts brokers it started) counts as gone, so it can be started again; what a
process that died said; which ports are held."""

import signal
import time
from pathlib import Path

from roadwatch.ports import taken
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


def test_last_words_are_the_log_errors_else_the_console_output(tmp_path: Path) -> None:
    d = Daemon("node", tmp_path)
    assert d.last_words() == f"it left nothing in {d.log_file} or {d.out_file}"
    d.out_file.write_text("Error: Invalid maximum heap size: -Xmx1x\nError: Could not create the JVM.\n")
    assert d.last_words() == (
        f"last lines of {d.out_file}: Error: Invalid maximum heap size: -Xmx1x"
        " | Error: Could not create the JVM."
    )
    d.log_file.write_text(
        "[2026-12-02 10:00:00,000] INFO starting\n"
        "[2026-12-02 10:00:01,000] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)\n"
        "[2026-12-02 10:00:01,001] INFO shut down\n"
    )
    assert d.last_words() == (
        f"last lines of {d.log_file}: [2026-12-02 10:00:01,000] ERROR Exiting Kafka due to fatal exception"
        " (kafka.Kafka$)"
    )


def test_taken_names_the_ports_held_by_a_listener(tmp_path: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert taken("127.0.0.1", [port]) == [port]
    assert taken("127.0.0.1", [port]) == []
