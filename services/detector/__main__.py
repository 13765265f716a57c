"""`python -m services.detector` (same as `roadwatch run detector`)."""

from roadwatch.logs import setup_logging
from roadwatch.serving import run_until_signalled
from roadwatch.settings import kafka_settings_from_env
from services.detector.service import run
from services.detector.settings import DetectorSettings

setup_logging()
settings, kafka = DetectorSettings(), kafka_settings_from_env()
run_until_signalled(lambda stop: run(settings, kafka, stop))
