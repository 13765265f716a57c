"""Prometheus metrics and readiness over one small HTTP server per service: `/metrics`, `/ready`, `/live`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

READY = Gauge("roadwatch_ready", "1 once the service has warmed up and consumes", ["service"])


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
