"""`Supervisor` with real tiny child processes (`python -c ...`): restart, give up, stop whole process groups,
readiness."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from roadwatch.errors import StackError
from roadwatch.ports import free_port
from roadwatch.process import group_alive
from roadwatch.supervisor import ServiceSpec, Supervisor

EXITS = "import os; print(os.getpid(), os.environ['MARK'], flush=True)"
SLEEPS = "import time; time.sleep(60)"
# Starts a grandchild `sleep` in its own process group, then says so (atomically) in the file argv[1].
SPAWNS = """
import os, subprocess, sys, time
grandchild = subprocess.Popen(["sleep", "60"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(grandchild.pid))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
"""
IGNORES_SIGTERM = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).touch()
time.sleep(60)
"""
# Answers GET /ready with the status given as argv[2], on the port argv[1].
SERVES = """
import http.server, sys
status = int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(status if self.path == "/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


Make = Callable[..., Supervisor]


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Make]:
    """Builds a started supervisor over the given specs; stops it at teardown whatever the test did."""
    made: list[Supervisor] = []

    def make(*specs: ServiceSpec) -> Supervisor:
        sup = Supervisor(list(specs), logs=tmp_path / "logs", cwd=tmp_path)
        made.append(sup)
        sup.start()
        return sup

    yield make
    for sup in made:
        sup.stop(timeout_s=2)


def wait_for(path: Path, timeout_s: float = 5) -> str:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)
    return path.read_text()


def exited(sup: Supervisor, name: str) -> int:
    """Wait for the current process of `name` to exit; its pid."""
    proc = sup.running[name].proc
    assert proc.proc is not None
    proc.proc.wait(5)
    return proc.pid


def test_a_service_that_exits_is_restarted_and_its_log_appended(supervisor: Make, tmp_path: Path) -> None:
    sup = supervisor(ServiceSpec("flaky", ["-c", EXITS], env={"MARK": "hello"}))
    first = exited(sup, "flaky")
    sup.check()
    assert sup.running["flaky"].restarts == 1
    second = exited(sup, "flaky")
    assert second != first
    log = (tmp_path / "logs" / "flaky.log").read_text()
    assert log.splitlines() == [f"{first} hello", f"{second} hello"]


def test_a_running_service_is_left_alone(supervisor: Make) -> None:
    sup = supervisor(ServiceSpec("steady", ["-c", SLEEPS]))
    pid = sup.running["steady"].proc.pid
    sup.check()
    assert (sup.running["steady"].proc.pid, sup.running["steady"].restarts) == (pid, 0)


def test_after_max_restarts_check_gives_up_naming_the_service_and_its_last_words(supervisor: Make) -> None:
    says = "import sys; sys.stderr.write('flaky: error: no models here\\n\\n'); raise SystemExit(3)"
    sup = supervisor(ServiceSpec("steady", ["-c", SLEEPS]), ServiceSpec("flaky", ["-c", says]))
    for restarts in (1, 2):
        exited(sup, "flaky")
        sup.check(max_restarts=2)
        assert sup.running["flaky"].restarts == restarts
    exited(sup, "flaky")
    with pytest.raises(
        StackError,
        match=r"^flaky keeps exiting \(code 3\): flaky: error: no models here \(see .*flaky\.log\)$",
    ):
        sup.check(max_restarts=2)


def test_stop_ends_every_service_and_its_whole_process_group(supervisor: Make, tmp_path: Path) -> None:
    sup = supervisor(
        ServiceSpec("a", ["-c", SPAWNS, str(tmp_path / "a.pid")]),
        ServiceSpec("b", ["-c", SPAWNS, str(tmp_path / "b.pid")]),
    )
    grandchildren = [int(wait_for(tmp_path / f"{n}.pid")) for n in ("a", "b")]
    procs = [r.proc for r in sup.running.values()]
    assert all(group_alive(p.pid) for p in procs)  # the group is there, grandchild included
    sup.stop(timeout_s=5)
    assert sup.running == {}
    assert [p.alive() for p in procs] == [False, False]
    assert [group_alive(p.pid) for p in procs] == [False, False]
    for pid in grandchildren:  # gone, or at most a zombie waiting for its new parent to reap it
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_stop_kills_a_service_that_ignores_sigterm(supervisor: Make, tmp_path: Path) -> None:
    sup = supervisor(ServiceSpec("stubborn", ["-c", IGNORES_SIGTERM, str(tmp_path / "armed")]))
    wait_for(tmp_path / "armed")
    proc = sup.running["stubborn"].proc
    started = time.monotonic()
    sup.stop(timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert proc.returncode == -9 and not group_alive(proc.pid)


def test_wait_ready_times_out_naming_what_is_not_ready(supervisor: Make) -> None:
    sup = supervisor(
        ServiceSpec("deaf", ["-c", SLEEPS], ready_port=free_port()),
        ServiceSpec("no-port", ["-c", SLEEPS]),  # not waited for
    )
    started = time.monotonic()
    with pytest.raises(StackError, match=r"not ready after 0\.3s: \['deaf'\]"):
        sup.wait_ready(timeout_s=0.3)
    assert time.monotonic() - started < 2


def test_wait_ready_returns_once_ready_answers_200(supervisor: Make) -> None:
    sup = supervisor(
        ServiceSpec("web", ["-c", SERVES, str(port := free_port()), "200"], ready_port=port),
        ServiceSpec("no-port", ["-c", SLEEPS]),
    )
    started = time.monotonic()
    sup.wait_ready(timeout_s=5)
    assert time.monotonic() - started < 5
    assert sup.running["web"].proc.alive()


def test_wait_ready_does_not_take_another_status_for_ready(supervisor: Make) -> None:
    sup = supervisor(ServiceSpec("busy", ["-c", SERVES, str(port := free_port()), "503"], ready_port=port))
    deadline = time.monotonic() + 5
    while True:  # the server is up and answering before the supervisor looks
        try:
            assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 503
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the test server never came up"
            time.sleep(0.02)
    with pytest.raises(StackError, match=r"\['busy'\]"):
        sup.wait_ready(timeout_s=0.3)
