"""`python -m services.detector` (same as `roadwatch run detector`)."""

from roadwatch.logs import setup_logging
from services.detector.service import main

setup_logging()
main()
