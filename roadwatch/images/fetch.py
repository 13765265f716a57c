"""Fetch image bytes by URI under an allow-list. Nothing outside the allow-list is ever requested, nothing
but a regular file is read, no read goes past `max_bytes` and no fetch outlives `timeout_s`."""

from __future__ import annotations

import functools
import os
import ssl
import stat
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, unquote, urlparse

import httpcore
import httpx

from roadwatch.errors import InvalidInputError

_LOCAL_HOSTS = ("", "localhost")
# O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, as not a regular file).
# O_NOFOLLOW: the path was resolved when it was checked; a symlink swapped in since is refused.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True)
class FetchPolicy:
    """Which URIs may be read: file roots, http(s) hosts, s3 buckets (each empty: none); at most
    `max_bytes` per fetch and `timeout_s` for the whole fetch (connect, headers and body together)."""

    file_roots: tuple[Path, ...] = ()
    http_hosts: frozenset[str] = field(default_factory=frozenset)
    s3_buckets: frozenset[str] = field(default_factory=frozenset)
    max_bytes: int = 25 * 1024 * 1024
    timeout_s: float = 10.0
    _roots: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # resolved once: a per-file resolve of every root cost more than reading a small image
        roots = tuple(os.path.realpath(r) for r in self.file_roots)
        object.__setattr__(self, "_roots", roots)

    def allows_file(self, path: str) -> bool:
        """Whether the resolved absolute `path` is inside a file root."""
        return any(r == os.sep or path == r or path.startswith(r + os.sep) for r in self._roots)


def check_allowed(uri: str, policy: FetchPolicy) -> None:
    """Raise InvalidInputError('uri_not_allowed') unless `uri` is well-formed and inside the allow-list."""
    _allowed(uri, policy)


def _allowed(uri: str, policy: FetchPolicy) -> tuple[ParseResult, Path | None]:
    """The parsed URI and, for a file URI, the resolved path that was checked."""
    try:
        parsed = urlparse(uri)
        _ = parsed.port  # a malformed port raises here
    except ValueError as exc:
        raise InvalidInputError("uri_not_allowed", f"{uri!r} is not a well-formed URI ({exc})") from exc
    if parsed.scheme == "file":
        return parsed, _local_path(parsed, uri, policy)
    if parsed.scheme in ("http", "https"):
        if (parsed.hostname or "") not in policy.http_hosts:
            raise InvalidInputError(
                "uri_not_allowed", f"host {parsed.hostname!r} is not on the http allow-list"
            )
    elif parsed.scheme == "s3":
        if parsed.netloc not in policy.s3_buckets:
            raise InvalidInputError(
                "uri_not_allowed", f"bucket {parsed.netloc!r} is not on the s3 allow-list"
            )
    else:
        raise InvalidInputError("uri_not_allowed", f"scheme {parsed.scheme!r} is not supported")
    return parsed, None


def _local_path(parsed: ParseResult, uri: str, policy: FetchPolicy) -> Path:
    if parsed.netloc.lower() not in _LOCAL_HOSTS:
        raise InvalidInputError(
            "uri_not_allowed", f"{uri} names host {parsed.netloc!r}: only local files are read"
        )
    if not policy.file_roots:
        raise InvalidInputError("uri_not_allowed", f"{uri}: no file roots are allowed")
    try:
        # the root "/" holds every path, symlinks or not: only a narrower root needs the path resolved
        raw = unquote(parsed.path)
        resolved = os.path.normpath(raw) if os.sep in policy._roots else os.path.realpath(raw, strict=False)
        if "\x00" in resolved:
            raise ValueError("embedded null byte")
    except (OSError, RuntimeError, ValueError) as exc:  # a NUL byte, a symlink loop
        raise InvalidInputError("uri_not_allowed", f"{uri} is not a usable local path ({exc})") from exc
    if not resolved.startswith(os.sep) or not policy.allows_file(resolved):
        raise InvalidInputError("uri_not_allowed", f"{uri} is outside the allowed file roots")
    return Path(resolved)


@dataclass(frozen=True)
class Fetched:
    """The bytes behind a URI and, for files, when they were last modified."""

    data: bytes
    modified_at: datetime | None = None


def fetch(uri: str, policy: FetchPolicy) -> Fetched:
    """Read the bytes behind `uri`.

    Raises:
        InvalidInputError: reason `uri_not_allowed`, `not_a_file` (a device, FIFO, directory...),
            `unreachable`, `timeout` or `too_large`.
    """
    parsed, path = _allowed(uri, policy)
    if path is not None:
        return _read_file(path, policy.max_bytes)
    if parsed.scheme == "s3":
        return Fetched(_read_s3(parsed.netloc, parsed.path.lstrip("/"), policy.max_bytes))
    return Fetched(_read_http(uri, parsed, policy))


def _read_file(path: Path, max_bytes: int) -> Fetched:
    """A regular file's bytes; its reported size is only a hint (procfs files report 0)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise InvalidInputError("unreachable", f"cannot open {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInputError("not_a_file", f"{path} is not a regular file")
        if st.st_size > max_bytes:
            raise InvalidInputError("too_large", f"{path} is {st.st_size} bytes > limit {max_bytes}")
        os.set_blocking(fd, True)
        with open(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)
            if len(data) > st.st_size:  # larger than reported: read on, never past the limit
                data += f.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise InvalidInputError("unreachable", f"cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InvalidInputError("too_large", f"{path} holds over {max_bytes} bytes")
    return Fetched(data, datetime.fromtimestamp(st.st_mtime, UTC))


def _read_http(uri: str, parsed: ParseResult, policy: FetchPolicy) -> bytes:
    deadline = time.monotonic() + policy.timeout_s
    try:
        url = httpcore.URL(uri)  # the same parser (urlparse) as the allow-list check
    except (TypeError, ValueError) as exc:  # TypeError: non-ASCII characters
        raise InvalidInputError("uri_not_allowed", f"{uri!r} is not a well-formed URL ({exc})") from exc
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"), policy.timeout_s)
    try:
        with (
            _pool(parsed, deadline) as pool,
            pool.stream("GET", url, extensions={"timeout": timeouts}) as resp,
        ):
            if not 200 <= resp.status < 300:  # redirects are not followed
                raise InvalidInputError("unreachable", f"{uri} answered HTTP {resp.status}")
            return _body(uri, resp.iter_stream(), policy.max_bytes)
    except httpcore.TimeoutException as exc:
        raise InvalidInputError("timeout", f"{uri} took over {policy.timeout_s} s ({exc})") from exc
    except (
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.ProxyError,
        httpcore.UnsupportedProtocol,
    ) as exc:
        raise InvalidInputError("unreachable", f"cannot fetch {uri}: {exc!r}") from exc


def _body(uri: str, chunks: Iterable[bytes], max_bytes: int) -> bytes:
    parts, total = [], 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise InvalidInputError("too_large", f"{uri} exceeds {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _pool(parsed: ParseResult, deadline: float) -> httpcore.ConnectionPool:
    """A one-fetch pool: TLS verified as httpx does, the environment's proxy, every socket operation
    bounded by what is left until `deadline`."""
    return httpcore.ConnectionPool(
        ssl_context=_ssl_context(),
        proxy=_env_proxy(parsed),
        network_backend=_DeadlineBackend(deadline),
    )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # certifi, or SSL_CERT_FILE / SSL_CERT_DIR; loaded once


def _env_proxy(parsed: ParseResult) -> httpcore.Proxy | None:
    """The `<scheme>_proxy` of the environment unless `no_proxy` exempts the host."""
    url = urllib.request.getproxies().get(parsed.scheme)
    if not url or urllib.request.proxy_bypass(parsed.hostname or ""):
        return None
    proxy = urlparse(url)
    auth = (unquote(proxy.username), unquote(proxy.password or "")) if proxy.username else None
    return httpcore.Proxy(proxy._replace(netloc=proxy.netloc.rpartition("@")[2]).geturl(), auth=auth)


def _left(deadline: float, timeout: float | None, error: type[httpcore.TimeoutException]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the fetch ran past its deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write waits at most until the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = _left(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking sockets, bounded by one deadline (httpx's timeouts are per operation: a host
    that trickles a byte at a time would hold a fetch for as long as it likes)."""

    def __init__(self, deadline: float) -> None:
        self._inner, self._deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(self._deadline, timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(0.0, self._deadline - time.monotonic())))


def _read_s3(bucket: str, key: str, max_bytes: int) -> bytes:
    try:
        import boto3  # optional: only deployments that use s3:// need it
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        raise InvalidInputError("unreachable", "s3:// needs boto3 installed") from exc
    try:
        obj = boto3.client("s3").get_object(Bucket=bucket, Key=key)
        if obj["ContentLength"] > max_bytes:
            raise InvalidInputError("too_large", f"s3://{bucket}/{key} exceeds {max_bytes} bytes")
        data: bytes = obj["Body"].read(max_bytes + 1)  # the header is a hint, the limit is not
        if len(data) > max_bytes:
            raise InvalidInputError("too_large", f"s3://{bucket}/{key} exceeds {max_bytes} bytes")
        return data
    except (BotoCoreError, ClientError) as exc:
        raise InvalidInputError("unreachable", f"cannot fetch s3://{bucket}/{key}: {exc}") from exc
