"""Pure construction of a `DeadLetter` from a record that could not be processed.

The dead letter keeps the original key and value bytes, topic, partition and offset. Its `event_id` is the
original's when it can be read, else `dlq:<topic>:<partition>:<offset>`, so a retried batch makes the same
dead letter again and the sink keeps one.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import NamedTuple

from schemas import DeadLetter
from schemas.records import utcnow

_SOURCE_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RawRecord(NamedTuple):
    """What a consumer knows about a record before decoding it (a tuple: built once per consumed record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


def _peek(value: bytes | None) -> dict[str, object]:
    try:
        data = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def dead_letter(raw: RawRecord, *, service: str, reason: str, detail: str) -> DeadLetter:
    """Describe `raw` as a dead letter with `reason` (a short code) and `detail` (for humans)."""
    peek = _peek(raw.value)
    event_id = peek.get("event_id")
    source_id = peek.get("source_id") or (raw.key or b"").decode("utf-8", "replace")
    when = datetime.fromtimestamp(raw.timestamp_ms / 1000, UTC) if raw.timestamp_ms else utcnow()
    return DeadLetter(
        event_id=event_id
        if isinstance(event_id, str) and 0 < len(event_id) <= 128
        else f"dlq:{raw.topic}:{raw.partition}:{raw.offset}",
        source_id=source_id if isinstance(source_id, str) and _SOURCE_RE.match(source_id) else "unknown",
        captured_at=when,
        service=service,
        reason=reason,
        detail=detail[:2000],
        source_topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        original_key_b64=base64.b64encode(raw.key).decode() if raw.key is not None else None,
        original_value_b64=base64.b64encode(raw.value or b"").decode(),
        failed_at=utcnow(),
    )
