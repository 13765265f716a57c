"""Fetch image bytes by URI under an allow-list. Nothing outside the allow-list is ever requested."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from roadwatch.errors import InvalidInputError


@dataclass(frozen=True)
class FetchPolicy:
    """Which URIs may be read: file roots (empty = any local file), http(s) hosts, s3 buckets."""

    file_roots: tuple[Path, ...] = ()
    http_hosts: frozenset[str] = field(default_factory=frozenset)
    s3_buckets: frozenset[str] = field(default_factory=frozenset)
    max_bytes: int = 25 * 1024 * 1024
    timeout_s: float = 10.0


def check_allowed(uri: str, policy: FetchPolicy) -> None:
    """Raise InvalidInputError('uri_not_allowed') unless `uri` is inside the allow-list."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if policy.file_roots and not any(
            Path(unquote(parsed.path)).resolve().is_relative_to(r.resolve()) for r in policy.file_roots
        ):
            raise InvalidInputError("uri_not_allowed", f"{uri} is outside the allowed file roots")
    elif parsed.scheme in ("http", "https"):
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


@dataclass(frozen=True)
class Fetched:
    """The bytes behind a URI and, for files, when they were last modified."""

    data: bytes
    modified_at: datetime | None = None


def fetch(uri: str, policy: FetchPolicy) -> Fetched:
    """Read the bytes behind `uri`.

    Raises:
        InvalidInputError: reason `uri_not_allowed`, `unreachable` or `too_large`.
    """
    check_allowed(uri, policy)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return _read_file(unquote(parsed.path), policy.max_bytes)
    if parsed.scheme == "s3":
        return Fetched(_read_s3(parsed.netloc, parsed.path.lstrip("/"), policy.max_bytes))
    return Fetched(_read_http(uri, policy))


def _read_file(path: str, max_bytes: int) -> Fetched:
    try:
        with open(path, "rb") as f:  # noqa: PTH123 - one open + fstat is the hot path of the producer
            st = os.fstat(f.fileno())
            if st.st_size > max_bytes:
                raise InvalidInputError("too_large", f"{path} is {st.st_size} bytes > limit {max_bytes}")
            return Fetched(f.read(), datetime.fromtimestamp(st.st_mtime, UTC))
    except OSError as exc:
        raise InvalidInputError("unreachable", f"cannot read {path}: {exc.strerror or exc}") from exc


def _read_http(uri: str, policy: FetchPolicy) -> bytes:
    try:
        with httpx.stream("GET", uri, timeout=policy.timeout_s, follow_redirects=False) as resp:
            resp.raise_for_status()
            chunks, total = [], 0
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > policy.max_bytes:
                    raise InvalidInputError("too_large", f"{uri} exceeds {policy.max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise InvalidInputError("unreachable", f"cannot fetch {uri}: {exc}") from exc


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
        data: bytes = obj["Body"].read()
        return data
    except (BotoCoreError, ClientError) as exc:
        raise InvalidInputError("unreachable", f"cannot fetch s3://{bucket}/{key}: {exc}") from exc
