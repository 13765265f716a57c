import logging
from collections.abc import Iterator

import pytest

from roadwatch.logs import ContextFormatter, ctx, setup_logging


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
