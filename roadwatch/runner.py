"""Run a service in the foreground until SIGINT/SIGTERM, then stop after the current batch."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def run_until_signalled(target: Callable[[threading.Event], None]) -> None:
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    target(stop)
