"""The shell every service runs in, written once: readiness and Prometheus metrics over one small HTTP
server (`/metrics`, `/ready`, `/live`), signal handling, and teardown.

    def main() -> None:
        settings, kafka = DetectorSettings(), KafkaSettings()
        run_until_signalled(lambda stop: run(settings, kafka, stop))

    def run(settings, kafka, stop):
        with serving("detector", settings.metrics_port) as health:
            ...                      # warm up, then health.set_ready() once consuming
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from roadwatch.errors import TransactionStuckError

log = logging.getLogger(__name__)
READY = Gauge("roadwatch_ready", "1 once the service has warmed up and consumes", ["service"])
STUCK_EXIT_CODE = 75  # EX_TEMPFAIL: start me again


class Health:
    """Readiness flag shared between a service loop and its HTTP endpoint."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._ready = threading.Event()
        READY.labels(service).set(0)

    def set_ready(self, ready: bool = True) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()
        READY.labels(self.service).set(1 if ready else 0)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()


def serve(health: Health, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer | None:
    """Start the endpoint in a daemon thread; port 0 disables it (returns None)."""
    if port == 0:
        return None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, ctype = generate_latest(REGISTRY), 200, CONTENT_TYPE_LATEST
            elif self.path in ("/ready", "/live"):
                ok = health.ready or self.path == "/live"
                body, status, ctype = (b"ok\n" if ok else b"warming up\n"), (200 if ok else 503), "text/plain"
            else:
                body, status, ctype = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name=f"{health.service}-http", daemon=True).start()
    return server


@contextmanager
def serving(service: str, port: int) -> Iterator[Health]:
    """The service's health endpoint for the duration of the block; on the way out (a stop, a crash)
    readiness turns false before the server goes."""
    health = Health(service)
    server = serve(health, port)
    try:
        yield health
    finally:
        health.set_ready(False)
        if server is not None:
            server.shutdown()
            server.server_close()


def run_until_signalled(target: Callable[[threading.Event], None]) -> None:
    """Run `target(stop)` in the foreground; SIGINT/SIGTERM set `stop` (the service stops after the current
    batch). A stuck Kafka transaction ends the process with STUCK_EXIT_CODE for its supervisor to restart."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    try:
        target(stop)
    except TransactionStuckError:
        # the stuck librdkafka handle could block a normal interpreter exit in its destructor
        log.critical("exiting for a restart with a fresh producer", exc_info=True)
        logging.shutdown()
        os._exit(STUCK_EXIT_CODE)
