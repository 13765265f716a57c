"""A small OpenAI-compatible chat-completions server whose behaviour a test scripts at run time.

It speaks real HTTP (`GET /v1/models`, `POST /v1/chat/completions`), so the `openai` backend (which talks
the chat-completions wire format over plain httpx, not the official client) is tested end to end: answers
that follow the schema, malformed JSON, JSON truncated to its first half, off-schema answers, slow answers
and HTTP 500s. Stop it to get refused connections. The benchmarks run the same answers over asyncio as a
stand-in VLM (`serve`, `main`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "malformed", "truncated", "offschema", "slow", "error500"]


@dataclass
class Script:
    """What the server answers; change the fields while it runs."""

    mode: Mode = "ok"
    roadwork: bool = True
    confidence: float = 0.9
    latency_s: float = 0.0
    slow_s: float = 5.0
    requests: int = 0
    last_request: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(
        self, method: str, path: str, body: bytes | None, model: str
    ) -> tuple[int, dict[str, Any], float]:
        """Count a request and answer it: the status, the body and how long to wait before sending it."""
        if method != "POST":
            return (*self.answer(method, path, body, model), 0.0)
        request = json.loads(body or b"{}")
        with self.lock:
            self.requests += 1
            self.last_request = request
            mode, delay = self.mode, self.latency_s
        return (*self.answer(method, path, body, model), self.slow_s if mode == "slow" else delay)

    def answer(self, method: str, path: str, body: bytes | None, model: str) -> tuple[int, dict[str, Any]]:
        """The status and body for a request (`GET .../models`, `POST .../chat/completions`)."""
        if method == "GET":
            if not path.rstrip("/").endswith("/models"):
                return 404, {"error": {"message": "not found"}}
            listed = {"id": model, "object": "model", "created": 0, "owned_by": "roadwatch"}
            return 200, {"object": "list", "data": [listed]}
        if self.mode == "error500":
            return 500, {"error": {"message": "backend exploded", "type": "server_error"}}
        return 200, {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": self.content()},
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }

    def content(self) -> str:
        answer = {"roadwork": self.roadwork, "confidence": self.confidence, "evidence": ["cones", "worker"]}
        text = json.dumps(answer)
        if self.mode == "malformed":
            return "I think there is roadwork {roadwork: yes!!"
        if self.mode == "truncated":
            return text[: len(text) // 2]
        if self.mode == "offschema":
            return json.dumps({"verdict": "maybe"})
        return text


class OpenAICompatibleServer:
    """Serves on 127.0.0.1:`port` (0 = any free port) in a background thread."""

    def __init__(self, model: str = "test-vlm", port: int = 0) -> None:
        self.model, self.script = model, Script()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
            )

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(*server.script.answer("GET", self.path, None, server.model))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, reply, delay = server.script.take("POST", self.path, body, server.model)
                if delay:
                    time.sleep(delay)
                self._send(status, reply)

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 drops bursts of new connections
            open_connections: set[socket.socket] = set()

            def process_request(self, request: Any, client_address: Any) -> None:
                self.open_connections.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request: Any) -> None:
                self.open_connections.discard(request)
                super().shutdown_request(request)

        self._httpd = Server(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._httpd.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAICompatibleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open keep-alive connection, as a crashed endpoint would."""
        self._httpd.shutdown()
        self._httpd.server_close()
        for conn in list(self._httpd.open_connections):
            with contextlib.suppress(OSError):  # the client may have closed it already
                conn.shutdown(socket.SHUT_RDWR)


async def serve(port: int, latency_s: float, model: str = "test-vlm") -> None:
    """The same answers over asyncio on 127.0.0.1:`port`, until cancelled: the benchmarks' stand-in VLM.
    One thread and no thread per connection, as an async server like vLLM's: with 128 keep-alive
    connections, `OpenAICompatibleServer`'s threads queue on the GIL when a round of answers falls due
    together and late answers bend the benchmark's latency."""
    script = Script(latency_s=latency_s)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                length = next(
                    (
                        int(v)
                        for n, _, v in (h.partition(":") for h in lines)
                        if n.lower() == "content-length"
                    ),
                    0,
                )
                status, reply, delay = script.take(method, path, await reader.readexactly(length), model)
                if delay:
                    await asyncio.sleep(delay)
                data = json.dumps(reply).encode()
                head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                writer.write(head.encode() + data)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the client went away, or sent something that is not HTTP: drop the connection
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    """`python -m apps.testing.openai_server --port P --latency S`: serve (`serve`) until killed."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency))


if __name__ == "__main__":
    main()
