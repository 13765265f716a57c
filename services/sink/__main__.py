"""`python -m services.sink` (same as `roadwatch run sink`)."""

from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.logs import setup_logging
from roadwatch.serving import run_until_signalled
from roadwatch.settings import kafka_settings_from_env
from services.sink.service import run
from services.sink.settings import SinkSettings

setup_logging()
settings, catalog, kafka = SinkSettings(), CatalogSettings(), kafka_settings_from_env()
run_until_signalled(lambda stop: run(settings, catalog, kafka, stop))
