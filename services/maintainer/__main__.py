"""`python -m services.maintainer` (same as `roadwatch run maintainer`)."""

from roadwatch.logs import setup_logging
from services.maintainer.service import main

setup_logging()
main()
