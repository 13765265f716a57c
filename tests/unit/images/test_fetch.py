"""Hostile URIs: devices, FIFOs, procfs, remote file hosts, a deny-by-default allow-list, hosts that trickle,
and allow-lists from the environment. Servers are local (127.0.0.1) and built here."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from roadwatch.errors import InvalidInputError
from roadwatch.images.access import ImageAccess
from roadwatch.images.fetch import Fetched, FetchPolicy, check_allowed, fetch
from roadwatch.producer.settings import ProducerSettings
from services.detector.settings import DetectorSettings

IMAGE = b"\xff\xd8\xff" + bytes(200)  # the fetch layer never looks inside


def reason_of(call: Callable[[], object]) -> str:
    with pytest.raises(InvalidInputError) as err:
        call()
    return err.value.reason


def within(seconds: float, call: Callable[[], Fetched]) -> str:
    """The reason `call` fails with, or 'ok'; fails the test if it has not returned within `seconds`."""
    result: list[str] = []

    def run() -> None:
        try:
            call()
            result.append("ok")
        except InvalidInputError as exc:
            result.append(exc.reason)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"still running after {seconds} s"
    return result[0]


# --- local files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_not_read(device: str) -> None:
    policy = FetchPolicy(file_roots=(Path("/dev"),), max_bytes=1024)
    assert within(5, lambda: fetch(Path(device).as_uri(), policy)) == "not_a_file"


def test_a_fifo_inside_an_allowed_root_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "cam.jpg"
    os.mkfifo(fifo)
    policy = FetchPolicy(file_roots=(tmp_path,))
    assert within(5, lambda: fetch(fifo.as_uri(), policy)) == "not_a_file"


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    assert reason_of(lambda: fetch(tmp_path.as_uri(), FetchPolicy(file_roots=(tmp_path,)))) == "not_a_file"


def test_procfs_files_that_report_size_zero_are_still_capped() -> None:
    status, stat_line = Path(f"/proc/{os.getpid()}/status"), Path(f"/proc/{os.getpid()}/stat")
    assert status.stat().st_size == stat_line.stat().st_size == 0  # and each holds hundreds of bytes
    policy = FetchPolicy(file_roots=(Path("/proc"),), max_bytes=256)
    assert reason_of(lambda: fetch(status.as_uri(), policy)) == "too_large"
    roomy = FetchPolicy(file_roots=(Path("/proc"),), max_bytes=64 * 1024)
    assert fetch(stat_line.as_uri(), roomy).data.startswith(f"{os.getpid()} (".encode())


def test_a_file_is_read_whole_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(IMAGE)
    assert fetch(path.as_uri(), FetchPolicy(file_roots=(tmp_path,), max_bytes=len(IMAGE))).data == IMAGE
    policy = FetchPolicy(file_roots=(tmp_path,), max_bytes=len(IMAGE) - 1)
    assert reason_of(lambda: fetch(path.as_uri(), policy)) == "too_large"


def test_file_uris_naming_another_host_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(IMAGE)
    policy = FetchPolicy(file_roots=(tmp_path,))
    assert fetch(f"file://localhost{path}", policy).data == IMAGE
    for uri in (f"file://otherhost{path}", f"file://10.0.0.7{path}", f"file://localhost:99{path}"):
        assert reason_of(lambda uri=uri: fetch(uri, policy)) == "uri_not_allowed", uri


def test_malformed_uris_are_refused_not_raised(tmp_path: Path) -> None:
    policy = FetchPolicy(file_roots=(tmp_path,), http_hosts=frozenset({"cams.example"}))
    for uri in (f"file://{tmp_path}/a%00.jpg", "http://[::1/a.jpg", "http://cams.example:99999/a.jpg"):
        assert reason_of(lambda uri=uri: check_allowed(uri, policy)) == "uri_not_allowed", uri


# --- deny by default ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ"])
def test_no_file_roots_allow_no_file(path: str) -> None:
    for policy in (FetchPolicy(), ImageAccess().fetch_policy()):
        assert reason_of(lambda policy=policy: fetch(Path(path).as_uri(), policy)) == "uri_not_allowed"


def test_the_producer_reads_any_file_its_user_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROADWATCH_CONFIG", raising=False)
    monkeypatch.delenv("ROADWATCH_PRODUCER_ALLOWED_FILE_ROOTS", raising=False)
    path = tmp_path / "a.jpg"
    path.write_bytes(IMAGE)
    assert fetch(path.as_uri(), ProducerSettings().fetch_policy()).data == IMAGE


# --- allow-lists from the environment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "roots"),
    [
        ("/tmp", [Path("/tmp")]),
        ("/tmp, /data/cams", [Path("/tmp"), Path("/data/cams")]),
        ('["/tmp", "/data/a,b"]', [Path("/tmp"), Path("/data/a,b")]),
        ("", []),
    ],
    ids=["one", "comma-separated", "json", "empty"],
)
def test_allow_lists_from_the_environment(
    value: str, roots: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROADWATCH_CONFIG", raising=False)
    monkeypatch.setenv("ROADWATCH_DETECTOR_ALLOWED_FILE_ROOTS", value)
    monkeypatch.setenv("ROADWATCH_DETECTOR_ALLOWED_HTTP_HOSTS", "cams.example,frames.example")
    monkeypatch.setenv("ROADWATCH_PRODUCER_ALLOWED_FILE_ROOTS", value)
    settings = DetectorSettings()
    assert settings.allowed_file_roots == roots
    assert settings.allowed_http_hosts == ["cams.example", "frames.example"]
    assert ProducerSettings().allowed_file_roots == roots


# --- http --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    trickle_s = 0.2
    paths: list[str] = []  # what the server was asked for

    def do_GET(self) -> None:
        self.paths.append(self.path)
        route = self.path.rsplit("/", 1)[-1]
        try:
            if route == "trickle-headers.jpg":
                self._trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
                return
            status, body = {"missing.jpg": (404, b"no"), "moved.jpg": (302, b"")}.get(route, (200, IMAGE))
            if route == "big.jpg":
                body = IMAGE * 100
            self.send_response(status)
            self.send_header("Content-Length", "40" if route == "trickle-body.jpg" else str(len(body)))
            if status == 302:
                self.send_header("Location", "http://127.0.0.1/elsewhere.jpg")
            self.end_headers()
            self._trickle(b"x" * 40) if route == "trickle-body.jpg" else self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _trickle(self, data: bytes) -> None:
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(self.trickle_s)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    _Handler.paths.clear()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def http_policy(timeout_s: float = 1.0, max_bytes: int = 25 * 1024 * 1024) -> FetchPolicy:
    return FetchPolicy(
        http_hosts=frozenset({"127.0.0.1", "cams.example"}), timeout_s=timeout_s, max_bytes=max_bytes
    )


def test_http_fetch(server: str) -> None:
    assert fetch(f"http://{server}/a.jpg", http_policy()).data == IMAGE
    assert reason_of(lambda: fetch(f"http://{server}/missing.jpg", http_policy())) == "unreachable"
    assert reason_of(lambda: fetch(f"http://{server}/moved.jpg", http_policy())) == "unreachable"
    assert reason_of(lambda: fetch(f"http://{server}/big.jpg", http_policy(max_bytes=1000))) == "too_large"


@pytest.mark.parametrize("route", ["trickle-body.jpg", "trickle-headers.jpg"])
def test_a_host_that_trickles_is_cut_off_at_the_deadline(server: str, route: str) -> None:
    started = time.monotonic()
    assert reason_of(lambda: fetch(f"http://{server}/{route}", http_policy(timeout_s=1.0))) == "timeout"
    assert time.monotonic() - started < 2.5  # the host would take 8-10 s


def test_an_unreachable_host(server: str) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Handler) as closed:
        port = closed.server_address[1]
    assert reason_of(lambda: fetch(f"http://127.0.0.1:{port}/a.jpg", http_policy())) == "unreachable"


def test_the_environment_proxy_is_used(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", f"http://{server}")
    assert fetch("http://cams.example/a.jpg", http_policy()).data == IMAGE
    assert _Handler.paths == ["http://cams.example/a.jpg"]
