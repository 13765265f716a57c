"""`roadwatch ui [--host H] [--port P]`: the web console (pages, JSON API, live feed) on the tables."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ui", help="serve the web console (default http://127.0.0.1:8099/)")
    p.add_argument(
        "--host", help="address to bind (default 127.0.0.1; any other needs ROADWATCH_CONSOLE_TOKEN)"
    )
    p.add_argument("--port", type=int, help="port (default 8099)")
    p.add_argument("--no-live", action="store_true", help="no Kafka: no live feed, no camera bands")
    p.set_defaults(handler=_ui)


def _ui(args: argparse.Namespace) -> int:
    from apps.console.server import serve
    from apps.console.settings import ConsoleSettings
    from roadwatch.iceberg.settings import CatalogSettings
    from roadwatch.settings import KafkaSettings

    given = {"host": args.host, "port": args.port, "live": False if args.no_live else None}
    settings = ConsoleSettings(**{k: v for k, v in given.items() if v is not None})
    serve(settings, CatalogSettings(), KafkaSettings())
    return 0
