"""Circuit breaker with Resilience4j semantics, and a bulkhead, for asyncio callers.

Evaluated first: pybreaker and aiobreaker count consecutive failures (`fail_max`) and let one trial call
through; purgatory likewise (consecutive failures, TTL). None has a count-based sliding window with
failure-rate and slow-call-rate thresholds, a minimum number of calls, and a fixed number of half-open trial
calls, so this is a small state machine of our own (pure: the clock is injected).

States: CLOSED → (window full enough and failure or slow-call rate ≥ threshold) → OPEN → (after
`wait_in_open_s`) → HALF_OPEN, which admits exactly `half_open_calls` trial calls; when they have all
finished, their own failure/slow rates decide CLOSED (window reset) or OPEN again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field

from roadwatch.errors import BulkheadFullError, CircuitOpenError

log = logging.getLogger(__name__)

STATE = Gauge("roadwatch_breaker_state", "0 closed, 1 open, 2 half-open", ["tier"])
TRANSITIONS = Counter("roadwatch_breaker_transitions_total", "Breaker state transitions", ["tier", "to"])


class BreakerState(Enum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class BreakerConfig(BaseModel):
    """A tier's breaker settings (`ROADWATCH_VLM_BREAKER__WINDOW_SIZE=...`, `[vlm.breaker]`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_size: int = Field(20, ge=1, description="calls in the sliding window")
    minimum_calls: int = Field(10, ge=1, description="calls before the rates are judged")
    failure_rate_threshold: float = Field(50.0, gt=0, le=100, description="percent of failed calls")
    slow_call_rate_threshold: float = Field(
        100.0, gt=0, le=100, description="percent of slow calls; 100 = only when every call is slow"
    )
    slow_call_duration_s: float = Field(20.0, gt=0, description="a call this long counts as slow")
    wait_in_open_s: float = Field(30.0, ge=0)
    half_open_calls: int = Field(3, ge=1, description="trial calls admitted when half-open")


class CircuitBreaker:
    """Decides whether a call may go through and learns from each call's outcome."""

    def __init__(self, name: str, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.config, self._clock = name, config, clock
        self.state = BreakerState.CLOSED
        self._window: deque[tuple[bool, bool]] = deque(maxlen=config.window_size)  # (failed, slow)
        self._opened_at = 0.0
        self._trials_started = 0
        self._trials: list[tuple[bool, bool]] = []
        STATE.labels(name).set(0)

    def _transition(self, to: BreakerState) -> None:
        log.warning(
            "circuit breaker %s: %s -> %s", self.name, self.state.name, to.name, extra={"tier": self.name}
        )
        self.state = to
        STATE.labels(self.name).set(to.value)
        TRANSITIONS.labels(self.name, to.name.lower()).inc()
        if to is BreakerState.OPEN:
            self._opened_at = self._clock()
        if to is BreakerState.HALF_OPEN:
            self._trials_started, self._trials = 0, []
        if to is BreakerState.CLOSED:
            self._window.clear()

    def acquire(self) -> None:
        """Permit one call or raise CircuitOpenError."""
        if self.state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.config.wait_in_open_s:
                raise CircuitOpenError(f"{self.name}: circuit open")
            self._transition(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN:
            if self._trials_started >= self.config.half_open_calls:
                raise CircuitOpenError(f"{self.name}: circuit half-open, trial calls in flight")
            self._trials_started += 1

    def record(self, *, failed: bool, duration_s: float) -> None:
        """Report the outcome of a permitted call."""
        outcome = (failed, duration_s >= self.config.slow_call_duration_s)
        if self.state is BreakerState.HALF_OPEN:
            self._trials.append(outcome)
            if len(self._trials) >= self.config.half_open_calls:
                self._transition(BreakerState.OPEN if self._tripped(self._trials) else BreakerState.CLOSED)
            return
        if self.state is BreakerState.CLOSED:
            self._window.append(outcome)
            if len(self._window) >= self.config.minimum_calls and self._tripped(list(self._window)):
                self._transition(BreakerState.OPEN)

    def _tripped(self, outcomes: list[tuple[bool, bool]]) -> bool:
        n = len(outcomes)
        failure_rate = 100.0 * sum(f for f, _ in outcomes) / n
        slow_rate = 100.0 * sum(s for _, s in outcomes) / n
        return (
            failure_rate >= self.config.failure_rate_threshold
            or slow_rate >= self.config.slow_call_rate_threshold
        )


class Bulkhead:
    """At most `max_in_flight` concurrent calls; a caller waits up to `max_wait_s`, then is refused."""

    def __init__(self, name: str, max_in_flight: int, max_wait_s: float) -> None:
        self.name, self.max_wait_s = name, max_wait_s
        self._sem = asyncio.Semaphore(max_in_flight)

    async def __aenter__(self) -> Bulkhead:
        try:  # `timeout`, not `wait_for`: a waiter costs no task of its own
            async with asyncio.timeout(self.max_wait_s):
                await self._sem.acquire()
        except TimeoutError as exc:
            raise BulkheadFullError(f"{self.name}: bulkhead full for {self.max_wait_s}s") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._sem.release()
