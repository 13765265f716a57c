"""Opening the SQLite catalog: a process that loses the race to create a new catalog's bookkeeping tables
(another process created them between its check and its CREATE TABLE) opens it again instead of failing."""

from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog, load_catalog
from sqlalchemy.exc import OperationalError

from roadwatch.iceberg import catalog
from roadwatch.iceberg.settings import CatalogSettings


def test_losing_the_create_race_opens_the_catalog_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def racing(name: str, **properties: Any) -> Catalog:
        calls.append(name)
        if len(calls) == 1:
            load_catalog(name, **properties)  # the other process wins: the tables exist now
            raise OperationalError(
                "CREATE TABLE iceberg_tables", {}, Exception("table iceberg_tables already exists")
            )
        return load_catalog(name, **properties)

    monkeypatch.setattr(catalog, "load_catalog", racing)
    opened = catalog.open_catalog(CatalogSettings(warehouse=str(tmp_path)))
    opened.create_namespace("roadwatch")
    assert calls == ["roadwatch", "roadwatch"] and ("roadwatch",) in opened.list_namespaces()


def test_other_database_errors_are_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(name: str, **properties: Any) -> Catalog:
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(catalog, "load_catalog", locked)
    with pytest.raises(OperationalError, match="database is locked"):
        catalog.open_catalog(CatalogSettings(warehouse=str(tmp_path)))
