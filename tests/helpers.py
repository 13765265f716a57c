"""Helpers shared by integration tests."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Message


def consume_all(
    consumer: Consumer, expected: int, timeout_s: float = 60.0, settle_s: float = 0.0
) -> list[Message]:
    """Poll until `expected` records arrived (then `settle_s` more, to catch extras) or the timeout passed."""
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    while time.monotonic() < deadline:
        if len(out) >= expected:
            settle_until = settle_until or time.monotonic() + settle_s
            if time.monotonic() >= settle_until:
                break
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            raise AssertionError(f"consumer error: {msg.error()}")
        out.append(msg)
    return out
