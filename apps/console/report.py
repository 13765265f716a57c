"""`roadwatch report`: the Overview as one self-contained HTML file (styles inline, charts as SVG, no
script, no image fetched): something to attach to a ticket or open without the console running."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from apps.console.overview import overview
from apps.console.tuning import tuning
from roadwatch.analytics.tables import Tables

HERE = Path(__file__).parent


def write_report(out: Path, tables: Tables | None = None, since: datetime | None = None) -> Path:
    """Write `out/index.html`; returns its path."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    tables = tables or Tables.open()
    page = env.get_template("report.html").render(
        css=(HERE / "static" / "console.css").read_text(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        since=since,
        tuning=tuning(tables, since),
        **overview(tables, since),
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(page)
    return path
