"""The shell every service runs in, written once: readiness and Prometheus metrics over one small HTTP
server (`/metrics`, `/ready`, `/live`), signal handling, and teardown.

    def main() -> None:
        settings, kafka = DetectorSettings(), KafkaSettings()
        run_until_signalled(lambda stop: run(settings, kafka, stop))

    def run(settings, kafka, stop):
        with serving("detector", settings.metrics_port) as health:
            ...                      # warm up, then health.set_ready() once consuming

The endpoint listens on loopback (127.0.0.1) unless `ROADWATCH_METRICS_HOST` names another address (read
once, at import): a container sets `ROADWATCH_METRICS_HOST=0.0.0.0` so that Prometheus and probes from
outside reach it. At most `MAX_CONNECTIONS` connections are handled at once, one thread each (one beyond
them is closed unanswered), and a connection that sends or reads nothing for `IDLE_TIMEOUT_S` is closed: idle
or slow clients cannot pile up threads or lock out the probes for longer than that. A port already taken is
a `ConfigError` naming the service and the port.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from roadwatch.errors import ConfigError, StuckError

log = logging.getLogger(__name__)
READY = Gauge("roadwatch_ready", "1 once the service has warmed up and consumes", ["service"])
STUCK_EXIT_CODE = 75  # EX_TEMPFAIL: start me again
METRICS_HOST = os.environ.get("ROADWATCH_METRICS_HOST", "127.0.0.1")
MAX_CONNECTIONS = 32
IDLE_TIMEOUT_S = 5.0


class Health:
    """Readiness shared between a service loop and its HTTP endpoint: the loop's flag (warmed up and
    consuming) and the checks it requires (each says why the service is not ready now, or None)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._ready = threading.Event()
        self._checks: list[Callable[[], str | None]] = []
        READY.labels(service).set_function(lambda: 1 if self.ready else 0)

    def set_ready(self, ready: bool = True) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()

    def require(self, check: Callable[[], str | None]) -> None:
        """Ready only while `check()` returns None (it runs on every probe and scrape: keep it cheap)."""
        self._checks.append(check)

    def not_ready_because(self) -> str | None:
        """Why the service is not ready, or None when it is."""
        if not self._ready.is_set():
            return "warming up"
        return next((why for why in (check() for check in self._checks) if why is not None), None)

    @property
    def ready(self) -> bool:
        return self.not_ready_because() is None


class BoundedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that handles at most `max_connections` connections at once; one beyond them
    is closed at once instead of getting a thread. Closing does not wait for the handler threads (each ends
    within the idle timeout)."""

    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int
    ) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)  # the thread releases the slot
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or went away: not worth a traceback on stderr."""
        log.debug("metrics client %s dropped", client_address, exc_info=True)


def serve(
    health: Health,
    port: int,
    host: str | None = None,
    *,
    max_connections: int = MAX_CONNECTIONS,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> ThreadingHTTPServer | None:
    """Start the endpoint in a daemon thread on `host` (default `METRICS_HOST`); port 0 disables it (returns
    None). Raises ConfigError when the address cannot be bound (the port is taken, the host is not local)."""
    if port == 0:
        return None
    host = METRICS_HOST if host is None else host

    class Handler(BaseHTTPRequestHandler):
        timeout = idle_timeout_s

        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, ctype = generate_latest(REGISTRY), 200, CONTENT_TYPE_LATEST
            elif self.path in ("/ready", "/live"):
                why = None if self.path == "/live" else health.not_ready_because()
                body, status = (b"ok\n", 200) if why is None else (f"{why}\n".encode(), 503)
                ctype = "text/plain"
            else:
                body, status, ctype = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    try:
        server = BoundedHTTPServer((host, port), Handler, max_connections)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            hint = f"port {port} is in use; give it a free metrics_port (0 turns the endpoint off)"
        else:
            hint = f"{exc.strerror or exc}; check ROADWATCH_METRICS_HOST"
        raise ConfigError(f"{health.service}: cannot serve metrics on {host}:{port}: {hint}") from exc
    threading.Thread(target=server.serve_forever, name=f"{health.service}-http", daemon=True).start()
    return server


@contextmanager
def serving(service: str, port: int, host: str | None = None) -> Iterator[Health]:
    """The service's health endpoint for the duration of the block; on the way out (a stop, a crash)
    readiness turns false before the server goes. Raises ConfigError when the port cannot be bound."""
    health = Health(service)
    server = serve(health, port, host)
    try:
        yield health
    finally:
        health.set_ready(False)
        if server is not None:
            server.shutdown()
            server.server_close()


@contextmanager
def closing_unless_stuck(close: Callable[[], None]) -> Iterator[None]:
    """Call `close` on the way out of the block, unless a Kafka client is stuck (`StuckError`): an orderly
    close could block on that client, and `run_until_signalled` ends the process anyway."""
    stuck = False
    try:
        yield
    except StuckError:
        stuck = True
        raise
    finally:
        if not stuck:
            close()


def run_until_signalled(target: Callable[[threading.Event], None]) -> None:
    """Run `target(stop)` in the foreground; SIGINT/SIGTERM set `stop` (the service stops after the current
    batch). A stuck Kafka client (a transaction blocked past its timeout, a consumer out of its group) ends
    the process with STUCK_EXIT_CODE for its supervisor to restart."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    try:
        target(stop)
    except StuckError:
        # the stuck librdkafka handle could block a normal interpreter exit in its destructor
        log.critical("exiting for a restart with fresh Kafka clients", exc_info=True)
        logging.shutdown()
        os._exit(STUCK_EXIT_CODE)
