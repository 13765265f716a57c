"""Logging with context: every record can carry topic, partition, offset and event_id as key=value pairs."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Hashable
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


class Throttle:
    """Lets the first line of each kind through, then at most one per `every_s`, and says how many it held
    back meanwhile: a client that retries a dead broker twenty times a second logs one line per interval.

        throttle = Throttle(10.0)
        held = throttle.admit(("unreachable", broker))
        if held is not None:
            log.warning("broker %s unreachable, retrying%s", broker, held_back(held))

    Kinds not seen for `every_s` are forgotten once more than `max_kinds` are kept. Thread-safe.
    """

    def __init__(
        self, every_s: float, *, clock: Callable[[], float] = time.monotonic, max_kinds: int = 1000
    ) -> None:
        self.every_s, self._clock, self._max_kinds = every_s, clock, max_kinds
        self._kinds: dict[Hashable, tuple[float, int]] = {}  # kind -> (when one was last let through, held)
        self._lock = threading.Lock()

    def admit(self, kind: Hashable) -> int | None:
        """None to drop this line; else how many lines of `kind` were dropped since the last one admitted."""
        now = self._clock()
        with self._lock:
            last, held = self._kinds.get(kind, (None, 0))
            if last is not None and now - last < self.every_s:
                self._kinds[kind] = (last, held + 1)
                return None
            if len(self._kinds) >= self._max_kinds:
                self._kinds = {k: v for k, v in self._kinds.items() if now - v[0] < self.every_s}
            self._kinds[kind] = (now, 0)
            return held


def held_back(held: int) -> str:
    """The suffix of a line a Throttle let through: ` (and 12 more like it)`, or nothing."""
    return f" (and {held} more like it)" if held else ""
