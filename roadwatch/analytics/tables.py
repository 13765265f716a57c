"""The Python API over the tables: Arrow scans with filters pushed into the Iceberg scan.

    from roadwatch.analytics.tables import Tables
    t = Tables.open()                       # the embedded catalog, or ROADWATCH_CATALOG_* settings
    verdicts = t.read("verdicts", since=datetime(2026, 11, 1, tzinfo=UTC), source="cam-1")
    t.duckdb().sql("select decided_by, count(*) from verdicts group by 1").show()

Other engines read the same tables through the catalog: Spark / Trino with the Iceberg REST catalog in
compose, pyiceberg `load_catalog(...)` anywhere, DuckDB through Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, GreaterThanOrEqual, In

from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from schemas.tables import TABLES


def row_filter(
    since: datetime | None,
    source: str | None,
    event_id: str | None = None,
    event_ids: list[str] | None = None,
) -> BooleanExpression:
    """The Iceberg filter for the common options (pushed into the scan: partitions and files are pruned)."""
    expr: BooleanExpression = AlwaysTrue()
    if since is not None:
        expr = And(expr, GreaterThanOrEqual("captured_at", since.isoformat()))  # type: ignore[call-arg]
    if source is not None:
        expr = And(expr, EqualTo("source_id", source))  # type: ignore[call-arg]
    if event_id is not None:
        expr = And(expr, EqualTo("event_id", event_id))  # type: ignore[call-arg]
    if event_ids is not None:
        expr = And(expr, In("event_id", event_ids))  # type: ignore[call-arg]
    return expr


@dataclass
class Tables:
    catalog: Catalog
    namespace: str

    @classmethod
    def open(cls, settings: CatalogSettings | None = None) -> Tables:
        settings = settings or CatalogSettings()
        return cls(open_catalog(settings), settings.namespace)

    def read(
        self,
        name: str,
        *,
        since: datetime | None = None,
        source: str | None = None,
        event_id: str | None = None,
        event_ids: list[str] | None = None,
        columns: tuple[str, ...] = ("*",),
    ) -> pa.Table:
        """One table as Arrow; an empty table of the right schema if the sink has not created it yet."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; one of {TABLES}")
        try:
            table = self.catalog.load_table(f"{self.namespace}.{name}")
        except NoSuchTableError:
            from schemas.tables import table_def

            return table_def(name).schema.as_arrow().empty_table()
        return table.scan(
            row_filter=row_filter(since, source, event_id, event_ids), selected_fields=columns
        ).to_arrow()

    def duckdb(
        self, *, since: datetime | None = None, source: str | None = None, event_id: str | None = None
    ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with every table registered under its name (already filtered)."""
        con = duckdb.connect()
        for name in TABLES:
            con.register(name, self.read(name, since=since, source=source, event_id=event_id))
        return con
