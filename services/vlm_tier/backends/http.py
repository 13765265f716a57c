"""A small keep-alive HTTP/1.1 client for one origin: what the `openai` backend sends, and no more.

Why not httpx: httpcore 1.0's pool walks every pooled connection on each request and each response (and for
each idle one, lists them all again and polls its socket), and without `sniffio` installed it re-runs a
failing `import` on every lock; at 32 calls in flight that kept the tier at 0.69 of its ideal and at 128 at
0.07. Here an idle connection is taken from a stack in O(1), a request goes out in one write (head and body
together), and a response is read by its `Content-Length`, its chunks, or to the end of the stream.

Errors: the deadline (`timeout_s`, over the whole call: waiting for a connection, connecting, sending and
reading) raises TimeoutError; a refused, reset or cut connection and a malformed response raise
ConnectionError. A connection is reused only when its last response was complete and the server has not
closed it since.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from roadwatch.errors import ConfigError

MAX_HEAD = 64 * 1024  # status line and headers of one response


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def open(self) -> bool:
        """Still usable: the server has not closed its end (an idle keep-alive timing out does)."""
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class Client:
    """Calls to one `base_url` (`http` or `https`) over at most `max_connections` kept-alive connections.

    Raises:
        ConfigError: `base_url` is not an http(s) URL with a host.
    """

    def __init__(
        self, base_url: str, *, headers: dict[str, str], timeout_s: float, max_connections: int
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"not an http(s) URL: {base_url!r}")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        self._prefix = url.path.rstrip("/") + "/"
        host = self._host if url.port is None else f"{self._host}:{url.port}"
        self._headers = f"Host: {host}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []

    async def request(self, method: str, path: str, payload: Any = None) -> Response:
        """Send `payload` (JSON, if not None) to `path` under the base URL; the response, whatever its status.

        Raises:
            TimeoutError: the call did not finish within `timeout_s`.
            ConnectionError: the connection was refused, reset or cut, or the response was malformed.
        """
        body = b"" if payload is None else json.dumps(payload).encode()
        head = f"{method} {self._prefix}{path} HTTP/1.1\r\n{self._headers}"
        if payload is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        message = (head + "\r\n").encode("latin-1") + body
        async with asyncio.timeout(self._timeout_s), self._slots:
            conn = self._take() or await self._connect()
            try:
                conn.writer.write(message)
                response, reusable = await _read_response(conn.reader, method)
            except BaseException:  # cancelled or failed half-way: the stream's state is unknown
                conn.close()
                raise
            if reusable:  # back before the slot is: the next caller finds it
                self._idle.append(conn)
            else:
                conn.close()
        return response

    def _take(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.open():
                return conn
            conn.close()
        return None

    async def _connect(self) -> _Connection:
        host = self._host if self._ssl else None
        reader, writer = await asyncio.open_connection(
            self._host, self._port, ssl=self._ssl, server_hostname=host, limit=MAX_HEAD
        )
        return _Connection(reader, writer)

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[Response, bool]:
    """The next final response on `reader` (interim 1xx ones skipped) and whether the connection can carry
    another request."""
    try:
        while True:
            version, status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            if not 100 <= status < 200:
                break
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunks(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:  # delimited by the end of the stream
            body, keep_alive = await reader.read(), False
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise ConnectionError(f"cut or malformed response: {type(exc).__name__}: {exc}") from exc
    return Response(status, body), keep_alive


def _parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    """Version, status and lower-cased headers of a response head. Raises ValueError when malformed."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, code, *_ = status_line.split(" ", 2)
    if not version.startswith("HTTP/1.") or len(code) != 3:
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:100]!r}")
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return version, int(code), headers


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
