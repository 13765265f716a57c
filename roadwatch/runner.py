"""Run a service in the foreground until SIGINT/SIGTERM, then stop after the current batch."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

from roadwatch.errors import TransactionStuckError

log = logging.getLogger(__name__)
STUCK_EXIT_CODE = 75  # EX_TEMPFAIL: start me again


def run_until_signalled(target: Callable[[threading.Event], None]) -> None:
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    try:
        target(stop)
    except TransactionStuckError:
        # the stuck librdkafka handle could block a normal interpreter exit in its destructor
        log.critical("exiting for a restart with a fresh producer", exc_info=True)
        logging.shutdown()
        os._exit(STUCK_EXIT_CODE)
