"""`python -m services.sink` (same as `roadwatch run sink`)."""

from roadwatch.logs import setup_logging
from services.sink.service import main

setup_logging()
main()
