"""Pure construction of a `DeadLetter` from a record that could not be processed.

The dead letter keeps the original key and value bytes, topic, partition and offset. Its `event_id` is the
original's when it can be read, else `dlq:<topic>:<partition>:<offset>`, so a retried batch makes the same
dead letter again and the sink keeps one. An original too large for the dead-letter topic is cut to
`MAX_ORIGINAL_BYTES` (`truncated`), with its full size and sha256, so a dead letter always fits.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import NamedTuple

from roadwatch.errors import InvalidInputError
from schemas import DeadLetter
from schemas.records import SOURCE_ID, utcnow

# Base64 of this many bytes plus the rest of a dead letter stays well inside Kafka's default 1 MB record
MAX_ORIGINAL_BYTES = 256 * 1024
MAX_KEY_BYTES = 1024
_PEEK_BYTES = 8 * 1024 * 1024  # event_id and source_id are looked for in values up to this size


class RawRecord(NamedTuple):
    """What a consumer knows about a record before decoding it (a tuple: built once per consumed record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


def _peek(value: bytes | None) -> dict[str, object]:
    """The record's top-level fields if it is a small enough JSON object; {} for anything else (deeply
    nested, huge, not JSON, not UTF-8)."""
    if not value or len(value) > _PEEK_BYTES:
        return {}
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    return data if isinstance(data, dict) else {}


def _usable_id(event_id: object) -> bool:
    """An id the record types accept: 1-128 characters, encodable (no lone surrogate)."""
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 128:
        return False
    try:
        event_id.encode()
    except UnicodeEncodeError:
        return False
    return True


def _coordinates_id(raw: RawRecord) -> str:
    """`dlq:<topic>:<partition>:<offset>`, the topic hashed when the whole would pass 128 characters."""
    full = f"dlq:{raw.topic}:{raw.partition}:{raw.offset}"
    if len(full) <= 128:
        return full
    return f"dlq:{hashlib.sha256(raw.topic.encode()).hexdigest()[:32]}:{raw.partition}:{raw.offset}"


def _key(key: bytes | None) -> str:
    return key[:MAX_KEY_BYTES].decode("utf-8", "replace") if key else ""


def dead_letter(raw: RawRecord, *, service: str, reason: str, detail: str) -> DeadLetter:
    """Describe `raw` as a dead letter with `reason` (a short code) and `detail` (for humans)."""
    peek = _peek(raw.value)
    event_id = peek.get("event_id")
    source_id = peek.get("source_id") or _key(raw.key)
    try:
        when = datetime.fromtimestamp(raw.timestamp_ms / 1000, UTC) if raw.timestamp_ms else utcnow()
    except (ValueError, OverflowError, OSError):  # a timestamp past year 9999
        when = utcnow()
    value = raw.value or b""
    truncated = len(value) > MAX_ORIGINAL_BYTES or len(raw.key or b"") > MAX_KEY_BYTES
    return DeadLetter(
        event_id=event_id if _usable_id(event_id) else _coordinates_id(raw),
        source_id=source_id if isinstance(source_id, str) and SOURCE_ID.fullmatch(source_id) else "unknown",
        captured_at=when,
        service=service,
        reason=reason[:200],
        detail=detail[:2000],
        source_topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        original_key_b64=base64.b64encode(raw.key[:MAX_KEY_BYTES]).decode() if raw.key is not None else None,
        original_value_b64=base64.b64encode(value[:MAX_ORIGINAL_BYTES]).decode(),
        failed_at=utcnow(),
        truncated=truncated,
        original_size=len(value),
        original_sha256=hashlib.sha256(value).hexdigest(),
    )


def failure(exc: Exception) -> tuple[str, str]:
    """(reason, detail) of what a record raised: the specific reason where one is known, else
    `internal_error: <ExceptionType>`."""
    if isinstance(exc, InvalidInputError):
        return exc.reason, exc.detail
    return f"internal_error: {type(exc).__name__}", str(exc)[:2000] or repr(exc)
