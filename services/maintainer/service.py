"""Wire the maintainer: settings → catalog → readiness → the loop."""

from __future__ import annotations

import threading

from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from roadwatch.serving import run_until_signalled, serving
from roadwatch.startup import one_line_errors
from services.maintainer.pipeline import SERVICE, Maintainer
from services.maintainer.settings import MaintainerSettings


def build(settings: MaintainerSettings, catalog: CatalogSettings) -> Maintainer:
    return Maintainer(settings, open_catalog(catalog), catalog.namespace)


def run(settings: MaintainerSettings, catalog: CatalogSettings, stop: threading.Event) -> None:
    with serving(SERVICE, settings.metrics_port) as health:
        build(settings, catalog).run(stop, health)


@one_line_errors("maintainer")
def main() -> None:
    """`python -m services.maintainer` and `roadwatch run maintainer`."""
    settings, catalog = MaintainerSettings(), CatalogSettings()
    run_until_signalled(lambda stop: run(settings, catalog, stop))
