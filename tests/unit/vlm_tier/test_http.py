"""The `openai` backend's keep-alive HTTP/1.1 client against a raw asyncio server that answers bytes a test
chooses: reuse, framing (length, chunks, end of stream), a server closing idle connections, cut and
malformed responses, the deadline and the connection bound."""

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from roadwatch.errors import ConfigError
from services.vlm_tier.backends.http import Client

Reply = Callable[[bytes], bytes | None]  # request bytes → raw response (None: close without answering)


def ok(body: bytes = b'{"ok": true}', extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


class RawServer:
    """Reads one request at a time (head, then `Content-Length` bytes) on each connection and writes
    whatever `reply` makes of it; counts connections and the most open at once."""

    def __init__(self, reply: Reply, delay_s: float = 0.0, close_after: bool = False) -> None:
        self.reply, self.delay_s, self.close_after = reply, delay_s, close_after
        self.requests: list[bytes] = []
        self.connections = self.open = self.most_open = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for w in self.writers:
            w.close()
        await asyncio.sleep(0.01)  # the handlers see their connections end before the loop does

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(h.split(b":")[1])
                        for h in head.split(b"\r\n")
                        if h.lower().startswith(b"content-length")
                    ),
                    0,
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                await asyncio.sleep(self.delay_s)
                raw = self.reply(request)
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def client(url: str, timeout_s: float = 2.0, max_connections: int = 4) -> Client:
    return Client(
        url, headers={"Authorization": "Bearer k"}, timeout_s=timeout_s, max_connections=max_connections
    )


def test_a_post_goes_under_the_base_path_in_one_request_and_the_connection_is_kept_alive() -> None:
    async def test() -> None:
        server = RawServer(lambda _: ok(b'{"n": 1}'))
        async with server as url:
            c = client(url)
            first = await c.request("POST", "chat/completions", {"model": "m", "x": [1, 2]})
            second = await c.request("GET", "models")
            await c.close()
        assert (first.status, first.json(), second.json()) == (200, {"n": 1}, {"n": 1})
        assert server.connections == 1
        head, body = server.requests[0].split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0] == "POST /v1/chat/completions HTTP/1.1"
        assert {
            "Authorization: Bearer k",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        } <= set(lines)
        assert json.loads(body) == {"model": "m", "x": [1, 2]}
        assert server.requests[1].startswith(b"GET /v1/models HTTP/1.1\r\n")

    run(test)


def test_a_chunked_body_is_read_whole_and_the_connection_kept() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked = head + b'4\r\n{"a"\r\n5;x=y\r\n: 12}\r\n0\r\nT: 1\r\n\r\n'  # an extension, a trailer

    async def test() -> None:
        server = RawServer(lambda _: chunked)
        async with server as url:
            c = client(url)
            assert (await c.request("GET", "a")).json() == {"a": 12}
            assert (await c.request("GET", "a")).json() == {"a": 12}
            await c.close()
        assert server.connections == 1

    run(test)


def test_a_body_without_length_runs_to_the_end_of_the_stream_and_its_connection_is_not_reused() -> None:
    async def test() -> None:
        server = RawServer(lambda _: b'HTTP/1.0 200 OK\r\n\r\n{"b": 2}', close_after=True)
        async with server as url:
            c = client(url)
            assert (await c.request("GET", "b")).json() == {"b": 2}
            assert (await c.request("GET", "b")).json() == {"b": 2}
            await c.close()
        assert server.connections == 2

    run(test)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def test() -> None:
        server = RawServer(lambda _: ok())
        async with server as url:
            c = client(url)
            await c.request("GET", "models")
            server.writers[0].close()  # the server's keep-alive timeout
            await asyncio.sleep(0.05)
            assert (await c.request("GET", "models")).status == 200
            await c.close()
        assert server.connections == 2

    run(test)


def test_connection_close_is_honoured() -> None:
    async def test() -> None:
        server = RawServer(lambda _: ok(extra="Connection: close\r\n"))
        async with server as url:
            c = client(url)
            await c.request("GET", "models")
            await c.request("GET", "models")
            await c.close()
        assert server.connections == 2

    run(test)


@pytest.mark.parametrize(
    "raw",
    [
        None,  # closed without a reply
        b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"cut":',  # cut inside the body
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",  # not HTTP
        b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
    ],
)
def test_cut_and_malformed_responses_raise_connection_error(raw: bytes | None) -> None:
    async def test() -> None:
        async with RawServer(lambda _: raw, close_after=True) as url:
            c = client(url)
            with pytest.raises(ConnectionError):
                await c.request("GET", "models")
            await c.close()

    run(test)


def test_a_refused_connection_raises_connection_error() -> None:
    async def test() -> None:
        async with RawServer(lambda _: ok()) as url:
            pass  # closed: nothing listens there any more
        with pytest.raises(ConnectionError):
            await client(url).request("GET", "models")

    run(test)


def test_the_deadline_covers_the_whole_call_and_the_late_connection_is_dropped() -> None:
    async def test() -> None:
        server = RawServer(lambda _: ok(), delay_s=0.3)
        async with server as url:
            c = client(url, timeout_s=0.1)
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(TimeoutError):
                await c.request("GET", "models")
            assert loop.time() - started < 0.25
            server.delay_s = 0.0
            assert (await c.request("GET", "models")).status == 200  # on a new connection
            await c.close()
        assert server.connections == 2

    run(test)


def test_no_more_than_max_connections_are_open_and_they_are_reused() -> None:
    async def test() -> None:
        server = RawServer(lambda _: ok(), delay_s=0.05)
        async with server as url:
            c = client(url, max_connections=3)
            replies = await asyncio.gather(*(c.request("GET", "models") for _ in range(12)))
            await c.close()
        assert [r.status for r in replies] == [200] * 12
        assert server.most_open == 3 and server.connections == 3

    run(test)


@pytest.mark.parametrize("url", ["ftp://host/v1", "http:///v1", "127.0.0.1:8000/v1"])
def test_a_base_url_that_is_not_http_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        client(url)
