"""Loopback ports: ones free to listen on now, and which of some are held by another socket."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from contextlib import ExitStack, closing


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct ports free on `host` now (held together while chosen, so never the same twice)."""
    with ExitStack() as held:
        socks = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(n)]
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def taken(host: str, ports: Iterable[int]) -> list[int]:
    """The ones of `ports` another socket holds on `host` (a listener, or a connection's local end: ports in
    the ephemeral range can be). Bound the way the JVM binds (SO_REUSEADDR), so TIME_WAIT is no obstacle."""
    busy = []
    for port in ports:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                busy.append(port)
    return busy
