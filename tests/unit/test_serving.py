"""The health/metrics endpoint: loopback by default, readiness follows Health and its required checks (a
stuck fetch), idle connections are closed, more idle clients than the cap cannot lock out a probe, and a
taken port is one ConfigError."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from roadwatch.errors import ConfigError, ConsumerStuckError
from roadwatch.inflight import InFlight
from roadwatch.ports import free_port
from roadwatch.serving import STUCK_EXIT_CODE, Health, closing_unless_stuck, serve, serving


def get(port: int, path: str, timeout: float = 2.0) -> int:
    return answer(port, path, timeout)[0]


def answer(port: int, path: str, timeout: float = 2.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture
def idle() -> Iterator[list[socket.socket]]:
    """Sockets that connect and then say nothing; closed after the test."""
    socks: list[socket.socket] = []
    yield socks
    for s in socks:
        s.close()


def test_binds_loopback_by_default() -> None:
    server = serve(Health("t-default"), free_port())
    assert server is not None
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_host_comes_from_the_environment() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import roadwatch.serving as s; print(s.METRICS_HOST)"],
        env={"ROADWATCH_METRICS_HOST": "0.0.0.0", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0.0.0.0"


def test_port_zero_disables_the_endpoint() -> None:
    assert serve(Health("t-off"), 0) is None


def test_ready_follows_health_and_live_is_always_ok() -> None:
    port = free_port()
    with serving("t-ready", port) as health:
        assert (get(port, "/ready"), get(port, "/live")) == (503, 200)
        health.set_ready()
        assert get(port, "/ready") == 200
        health.set_ready(False)
        assert (get(port, "/ready"), get(port, "/live"), get(port, "/nope")) == (503, 200, 404)
        assert get(port, "/metrics") == 200


def test_ready_turns_false_while_a_fetch_is_stuck_and_back_when_it_ends() -> None:
    now = [100.0]
    loads = InFlight("image load", clock=lambda: now[0])
    port = free_port()
    with serving("t-stuck", port) as health:
        health.require(loads.stalled_after(5.0))
        health.set_ready()
        with loads.track():
            now[0] += 4.0
            assert get(port, "/ready") == 200  # slow, not stuck
            with loads.track():  # a younger one does not hide the oldest
                now[0] += 2.0
                assert answer(port, "/ready") == (503, "image load running for 6.0 s (stuck after 5 s)\n")
                assert get(port, "/live") == 200
                assert 'roadwatch_ready{service="t-stuck"} 0.0' in answer(port, "/metrics")[1]
        assert (get(port, "/ready"), loads.oldest_s()) == (200, 0.0)
        with pytest.raises(OSError), loads.track():  # a fetch that fails ends too
            raise OSError("gone")
        assert loads.oldest_s() == 0.0


def test_an_idle_connection_is_closed_after_the_timeout(idle: list[socket.socket]) -> None:
    port = free_port()
    server = serve(Health("t-idle"), port, idle_timeout_s=0.3)
    assert server is not None
    try:
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        started = time.monotonic()
        assert idle[0].recv(1024) == b""  # the server hung up without an answer
        assert 0.2 < time.monotonic() - started < 3
    finally:
        server.shutdown()
        server.server_close()


def test_more_idle_clients_than_the_cap_do_not_exhaust_the_server(idle: list[socket.socket]) -> None:
    port, cap, timeout_s = free_port(), 4, 0.5
    server = serve(Health("t-cap"), port, max_connections=cap, idle_timeout_s=timeout_s)
    assert server is not None
    try:
        threads_before = threading.active_count()
        idle.extend(socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3 * cap))
        time.sleep(0.1)
        assert threading.active_count() - threads_before <= cap  # one thread per admitted connection
        started, status = time.monotonic(), None
        while status is None and time.monotonic() - started < timeout_s + 3:
            try:
                status = get(port, "/live")
            except (ConnectionError, http.client.HTTPException):
                time.sleep(0.05)  # refused while the idle ones hold every slot
        assert status == 200
        assert time.monotonic() - started < timeout_s + 2
    finally:
        server.shutdown()
        server.server_close()


def test_a_port_in_use_is_one_config_error_naming_service_and_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as err, serving("detector", port):
            pass
    message = str(err.value)
    assert "detector" in message and str(port) in message and "\n" not in message


def test_a_block_closes_on_the_way_out_unless_a_client_is_stuck() -> None:
    closed: list[str] = []
    with closing_unless_stuck(lambda: closed.append("stopped")):
        pass
    with pytest.raises(ValueError), closing_unless_stuck(lambda: closed.append("failed")):
        raise ValueError("a bug")
    with pytest.raises(ConsumerStuckError), closing_unless_stuck(lambda: closed.append("stuck")):
        raise ConsumerStuckError("out of its group")
    assert closed == ["stopped", "failed"]


def test_a_stuck_client_ends_the_process_with_the_restart_code() -> None:
    script = (
        "from roadwatch.errors import ConsumerStuckError\n"
        "from roadwatch.serving import run_until_signalled\n"
        "def target(stop):\n"
        "    raise ConsumerStuckError('out of its group for 331s')\n"
        "run_until_signalled(target)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == STUCK_EXIT_CODE
    assert "out of its group for 331s" in out.stderr
