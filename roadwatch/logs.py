"""Logging with context: every record can carry topic, partition, offset and event_id as key=value pairs."""

from __future__ import annotations

import logging
import sys
from typing import Any

_CONTEXT_KEYS = ("service", "topic", "partition", "offset", "event_id", "source_id", "tier")
_CHATTY = ("httpx", "httpcore")  # a line per HTTP request (readiness probes, VLM calls): shown at DEBUG only


class ContextFormatter(logging.Formatter):
    """Appends the known context keys present on a record as `key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = [f"{k}={getattr(record, k)}" for k in _CONTEXT_KEYS if hasattr(record, k)]
        return f"{base} {' '.join(extras)}" if extras else base


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once for a process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)


def ctx(**kwargs: Any) -> dict[str, Any]:
    """Build the `extra=` mapping for a log call: `log.info("sent", extra=ctx(topic=t, offset=o))`."""
    return kwargs
