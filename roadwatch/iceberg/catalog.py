"""Open the catalog and create or migrate the declared tables (additive evolution only)."""

from __future__ import annotations

import logging

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from sqlalchemy.exc import OperationalError

from roadwatch.iceberg.settings import CatalogSettings
from schemas.tables import TABLES, table_def

log = logging.getLogger(__name__)

# Commit retries would silently rebase a stale writer's offsets over a newer commit: the sink fences itself.
TABLE_PROPERTIES = {"commit.retry.num-retries": "0", "format-version": "2"}


def open_catalog(settings: CatalogSettings) -> Catalog:
    """The configured catalog. Processes opening a new SQLite catalog at once (the demo's sink and console)
    race to create its bookkeeping tables, and the loser's CREATE TABLE fails: it opens the catalog again,
    which finds them."""
    properties = settings.properties()
    try:
        return load_catalog(settings.name, **properties)
    except OperationalError as exc:
        if "already exists" not in str(exc):
            raise
        log.debug("catalog %s created by another process meanwhile; opening it again", settings.name)
        return load_catalog(settings.name, **properties)


def ensure_tables(catalog: Catalog, namespace: str) -> dict[str, Table]:
    """Every declared table, created if missing; existing ones gain declared columns they lack."""
    try:
        catalog.create_namespace(namespace)
    except NamespaceAlreadyExistsError:
        log.debug("namespace %s exists", namespace)
    tables = {}
    for name in TABLES:
        d = table_def(name)
        identifier = f"{namespace}.{name}"
        try:
            table = catalog.load_table(identifier)
        except NoSuchTableError:
            table = catalog.create_table(
                identifier,
                d.schema,
                partition_spec=d.partition_spec,
                sort_order=d.sort_order,
                properties=TABLE_PROPERTIES,
            )
            log.info("created table %s", identifier)
        else:
            table = _migrate(table, d.schema)
        tables[name] = table
    return tables


def _migrate(table: Table, declared: Schema) -> Table:
    missing = {f.name for f in declared.fields} - {f.name for f in table.schema().fields}
    if missing:
        with table.update_schema() as update:
            update.union_by_name(declared)
        log.info("added columns %s to %s", sorted(missing), table.name())
    if table.properties.get("commit.retry.num-retries") != "0":
        with table.transaction() as tx:
            tx.set_properties(TABLE_PROPERTIES)
    return table
