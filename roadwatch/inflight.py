"""Operations under way and how long the oldest has run: a service's readiness turns false while one of its
image fetches is stuck (each fetch ends by its own deadline; this says so while it has not yet).

    fetches = InFlight("image fetch")
    with fetches.track():
        data = fetch(uri, policy)
    health.require(fetches.stalled_after(5.0))   # /ready: 503 "image fetch running for 7.1 s (...)"
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class InFlight:
    """Thread-safe register of the operations of one kind that have started and not yet ended."""

    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self._clock = what, clock
        self._started: dict[int, float] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    @contextmanager
    def track(self) -> Iterator[None]:
        """Register the block's operation while it runs (ended by a return or an exception alike)."""
        op = next(self._ids)
        with self._lock:
            self._started[op] = self._clock()
        try:
            yield
        finally:
            with self._lock:
                del self._started[op]

    def oldest_s(self) -> float:
        """How long the oldest operation under way has run; 0.0 when none is."""
        with self._lock:
            first = min(self._started.values(), default=None)
        return 0.0 if first is None else self._clock() - first

    def stalled_after(self, limit_s: float) -> Callable[[], str | None]:
        """A readiness check: why the service is not ready while an operation has run over `limit_s`."""

        def check() -> str | None:
            age = self.oldest_s()
            return (
                f"{self.what} running for {age:.1f} s (stuck after {limit_s:g} s)" if age > limit_s else None
            )

        return check
