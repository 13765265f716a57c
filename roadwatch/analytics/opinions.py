"""The asked opinions (`schemas.evaluation`): dense evaluation's in `<namespace>_eval.opinions`, `replay
--rerun`'s in `<namespace>_replay.opinions`, created on first write, read as Arrow; never a production table.

    store = OpinionStore.open(tables.catalog, tables.namespace, "rerun")
    store.append(asked)           # one commit
    store.read()                  # every row, or an empty table of the declared schema
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.table import Table

from roadwatch.iceberg.catalog import TABLE_PROPERTIES
from schemas.evaluation import OPINIONS, AskedBy, AskedOpinion, opinions_def, opinions_namespace

log = logging.getLogger(__name__)


@dataclass
class OpinionStore:
    catalog: Catalog
    identifier: str

    @classmethod
    def open(cls, catalog: Catalog, namespace: str, asked_by: AskedBy) -> OpinionStore:
        """The store of `asked_by`'s opinions beside the production `namespace` (nothing is created yet)."""
        return cls(catalog, f"{opinions_namespace(namespace, asked_by)}.{OPINIONS}")

    def append(self, asked: list[AskedOpinion]) -> None:
        """Write `asked` in one commit (nothing for an empty list), creating the table the first time."""
        if not asked:
            return
        table = self._load() or self._create()
        table.append(pa.Table.from_pylist([a.row() for a in asked], schema=table.schema().as_arrow()))

    def read(self) -> pa.Table:
        """Every stored row; an empty table of the declared schema when nothing was written yet."""
        table = self._load()
        if table is None:
            return opinions_def().schema.as_arrow().empty_table()
        return table.scan().to_arrow()

    def _load(self) -> Table | None:
        try:
            return self.catalog.load_table(self.identifier)
        except NoSuchTableError:
            return None

    def _create(self) -> Table:
        namespace = self.identifier.rpartition(".")[0]
        try:
            self.catalog.create_namespace(namespace)
        except NamespaceAlreadyExistsError:
            log.debug("namespace %s exists", namespace)
        d = opinions_def()
        log.info("creating table %s", self.identifier)
        return self.catalog.create_table(
            self.identifier,
            d.schema,
            partition_spec=d.partition_spec,
            sort_order=d.sort_order,
            properties=TABLE_PROPERTIES,
        )
