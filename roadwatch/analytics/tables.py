"""The Python API over the tables: Arrow scans with filters pushed into the Iceberg scan.

    from roadwatch.analytics.tables import Tables
    t = Tables.open()                       # the embedded catalog, or ROADWATCH_CATALOG_* settings
    verdicts = t.read("verdicts", since=datetime(2026, 11, 1, tzinfo=UTC), source="cam-1")
    t.duckdb().sql("select decided_by, count(*) from verdicts group by 1").show()

Other engines read the same tables through the catalog: Spark / Trino with the Iceberg REST catalog in
compose, pyiceberg `load_catalog(...)` anywhere, DuckDB through Arrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.conversions import from_bytes
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    In,
    LessThanOrEqual,
)
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import FileScanTask, Table
from pyiceberg.types import PrimitiveType, TimestampType, TimestamptzType

from roadwatch.iceberg.catalog import open_catalog
from roadwatch.iceberg.settings import CatalogSettings
from schemas.tables import TABLES


def row_filter(
    since: datetime | None,
    source: str | None,
    event_id: str | None = None,
    event_ids: list[str] | None = None,
    until: datetime | None = None,
) -> BooleanExpression:
    """The Iceberg filter for the common options (pushed into the scan: partitions and files are pruned);
    `since` and `until` bound `captured_at`, both inclusive."""
    expr: BooleanExpression = AlwaysTrue()
    if since is not None:
        expr = And(expr, GreaterThanOrEqual("captured_at", since.isoformat()))  # type: ignore[call-arg]
    if until is not None:
        expr = And(expr, LessThanOrEqual("captured_at", until.isoformat()))  # type: ignore[call-arg]
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
        until: datetime | None = None,
        columns: tuple[str, ...] = ("*",),
    ) -> pa.Table:
        """One table as Arrow; an empty table of the right schema if the sink has not created it yet."""
        table = self._load(name)
        if table is None:
            return _empty(name, ("*",))
        return table.scan(
            row_filter=row_filter(since, source, event_id, event_ids, until), selected_fields=columns
        ).to_arrow()

    def newest(
        self,
        name: str,
        by: str,
        limit: int,
        *,
        where: BooleanExpression | None = None,
        columns: tuple[str, ...] = ("*",),
    ) -> pa.Table:
        """The rows matching `where` among which lie the `limit` largest values of the timestamp column `by`
        (ties and more rows included: the caller sorts and cuts). Data files are read one at a time from the
        largest upper bound of `by` in the manifests down, and no further once `limit` rows are found and no
        file left can hold a value as large as the `limit`-th: a page of the newest rows reads the newest
        file or two, not the table. `columns` must include `by`."""
        table = self._load(name)
        if table is None or limit < 1:
            return _empty(name, columns)
        field = table.schema().find_field(by)
        typ = field.field_type
        if not isinstance(typ, TimestampType | TimestamptzType):
            raise ValueError(f"{name}.{by} is not a timestamp column")
        upper = partial(_upper, field_id=field.field_id, typ=typ)
        scan = table.scan(row_filter=where or AlwaysTrue(), selected_fields=columns)
        tasks = sorted(scan.plan_files(), key=upper, reverse=True)
        reader = ArrowScan(table.metadata, table.io, scan.projection(), scan.row_filter, scan.case_sensitive)
        parts: list[pa.Table] = []
        values = np.empty(0, np.int64)  # microseconds, as the manifests' bounds
        for task in tasks:
            if len(values) >= limit and upper(task) < np.partition(values, -limit)[-limit]:
                break
            part = reader.to_table([task])
            column = part.column(by).drop_null()
            micros = pc.cast(column, pa.timestamp("us", column.type.tz)).cast(pa.int64())
            values = np.concatenate([values, micros.to_numpy()])
            parts.append(part)
        if not parts:
            return reader.to_table([])
        return pa.concat_tables(parts, promote_options="permissive")

    def _load(self, name: str) -> Table | None:
        """The table, or None if the sink has not created it yet."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; one of {TABLES}")
        try:
            return self.catalog.load_table(f"{self.namespace}.{name}")
        except NoSuchTableError:
            return None

    def duckdb(
        self,
        *,
        since: datetime | None = None,
        source: str | None = None,
        event_id: str | None = None,
        columns: Mapping[str, tuple[str, ...]] | None = None,
    ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the tables registered under their names (already filtered): with
        `columns`, only the tables it names and only those columns, else every column of every table."""
        con = duckdb.connect()
        for name in TABLES if columns is None else columns:
            shown = ("*",) if columns is None else columns[name]
            con.register(name, self.read(name, since=since, source=source, event_id=event_id, columns=shown))
        return con


def _empty(name: str, columns: tuple[str, ...]) -> pa.Table:
    from schemas.tables import table_def

    schema = table_def(name).schema
    return (schema if columns == ("*",) else schema.select(*columns)).as_arrow().empty_table()


def _upper(task: FileScanTask, field_id: int, typ: PrimitiveType) -> float:
    """The largest value of a timestamp field in the task's data file, in microseconds (infinite when the
    manifest does not say)."""
    bound = task.file.upper_bounds.get(field_id) if task.file.upper_bounds else None
    return float("inf") if bound is None else float(from_bytes(typ, bound))
