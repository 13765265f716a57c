import asyncio

import pytest

from roadwatch.errors import BulkheadFullError, CircuitOpenError
from services.vlm_tier.breaker import BreakerConfig, BreakerState, Bulkhead, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def breaker(clock: Clock, **kw: float) -> CircuitBreaker:
    cfg = (
        dict(
            window_size=10,
            minimum_calls=4,
            failure_rate_threshold=50.0,
            slow_call_rate_threshold=100.0,
            slow_call_duration_s=1.0,
            wait_in_open_s=30.0,
            half_open_calls=2,
        )
        | kw
    )
    return CircuitBreaker("t", BreakerConfig(**cfg), clock)  # type: ignore[arg-type]


def call(b: CircuitBreaker, failed: bool, duration: float = 0.1) -> None:
    b.acquire()
    b.record(failed=failed, duration_s=duration)


def test_stays_closed_below_minimum_calls_and_below_the_rate() -> None:
    b = breaker(Clock())
    for _ in range(3):
        call(b, failed=True)
    assert b.state is BreakerState.CLOSED  # 3 < minimum_calls
    b2 = breaker(Clock())
    for failed in (True, False, False, False, True, False, False):
        call(b2, failed)
    assert b2.state is BreakerState.CLOSED  # 2/7 < 50 %


def test_opens_at_the_failure_rate_and_refuses_calls() -> None:
    b = breaker(Clock())
    for failed in (False, True, False, True):
        call(b, failed)
    assert b.state is BreakerState.OPEN  # 2/4 = 50 %
    with pytest.raises(CircuitOpenError):
        b.acquire()


def test_slow_calls_open_it_too() -> None:
    b = breaker(Clock(), slow_call_rate_threshold=75.0)
    for _ in range(4):
        call(b, failed=False, duration=2.0)
    assert b.state is BreakerState.OPEN


def test_half_open_admits_a_fixed_number_of_trials_then_closes() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        call(b, failed=True)
    clock.t = 31.0
    b.acquire()
    assert b.state is BreakerState.HALF_OPEN
    b.acquire()
    with pytest.raises(CircuitOpenError):
        b.acquire()  # only 2 trial calls
    b.record(failed=False, duration_s=0.1)
    assert b.state is BreakerState.HALF_OPEN
    b.record(failed=False, duration_s=0.1)
    assert b.state is BreakerState.CLOSED
    call(b, failed=True)
    assert b.state is BreakerState.CLOSED  # the window was reset


def test_failed_trials_reopen_and_wait_again() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        call(b, failed=True)
    clock.t = 31.0
    call(b, failed=True)
    call(b, failed=False)
    assert b.state is BreakerState.OPEN
    clock.t = 40.0
    with pytest.raises(CircuitOpenError):
        b.acquire()


def test_bulkhead_bounds_in_flight_calls() -> None:
    async def scenario() -> tuple[int, bool]:
        bulkhead = Bulkhead("t", max_in_flight=2, max_wait_s=0.05)
        peak = active = 0

        async def work() -> None:
            nonlocal peak, active
            async with bulkhead:
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.01)
                active -= 1

        await asyncio.gather(*(work() for _ in range(6)))
        refused = False
        async with bulkhead, bulkhead:
            try:
                async with bulkhead:
                    pass
            except BulkheadFullError:
                refused = True
        return peak, refused

    peak, refused = asyncio.run(scenario())
    assert peak == 2 and refused
