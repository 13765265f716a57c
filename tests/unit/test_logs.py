import logging
from collections.abc import Iterator

import pytest

from roadwatch.logs import ContextFormatter, Throttle, ctx, held_back, setup_logging


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = root.handlers[:], root.level, httpx.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    httpx.setLevel(httpx_level)


def test_a_record_carries_its_kafka_context() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent", None, None)
    for key, value in ctx(topic="images.v1", partition=2, offset=41, event_id="e-1").items():
        setattr(record, key, value)
    line = ContextFormatter("%(message)s").format(record)
    assert line == "sent topic=images.v1 partition=2 offset=41 event_id=e-1"


def test_http_client_request_lines_show_only_at_debug() -> None:
    setup_logging("INFO")
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("roadwatch").isEnabledFor(logging.INFO)
    setup_logging("DEBUG")
    assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_throttle_lets_one_line_of_a_kind_through_per_interval_and_counts_the_rest() -> None:
    clock = Clock()
    throttle = Throttle(10.0, clock=clock)
    assert throttle.admit("unreachable") == 0
    assert [throttle.admit("unreachable") for _ in range(3)] == [None, None, None]
    assert throttle.admit("other") == 0, "each kind has its own interval"
    clock.now = 9.9
    assert throttle.admit("unreachable") is None
    clock.now = 10.0
    assert throttle.admit("unreachable") == 4
    assert throttle.admit("unreachable") is None
    clock.now = 20.0
    assert throttle.admit("unreachable") == 1
    assert (held_back(0), held_back(4)) == ("", " (and 4 more like it)")


def test_a_throttle_forgets_kinds_not_seen_for_an_interval_once_it_holds_too_many() -> None:
    clock = Clock()
    throttle = Throttle(1.0, clock=clock, max_kinds=2)
    throttle.admit("a")
    assert throttle.admit("a") is None  # one held back
    throttle.admit("b")
    clock.now = 5.0
    assert throttle.admit("c") == 0  # over the bound: a and b go
    assert throttle.admit("a") == 0, "forgotten with its count"
