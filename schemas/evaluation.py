"""The table of asked opinions, apart from production: what a tier said about an image when it was asked on
purpose, by dense evaluation (`roadwatch eval --dense`) or by `roadwatch replay --rerun`.

One table `opinions` per namespace: `<namespace>_eval` holds dense evaluation's, `<namespace>_replay`
`--rerun`'s; no production table (namespace `<namespace>`) is ever written by either. A row is one tier's
opinion of one image (`image_sha256`), with the detector's score of it and, for a dataset image, its label.
Evolution is additive, as for the production tables (`schemas/tables.py`).
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import AwareDatetime, Field
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    StringType,
    TimestamptzType,
)

from schemas.records import Contract, TierOpinion
from schemas.tables import FieldDef, TableDef, strings, struct_fields

OPINIONS = "opinions"
AskedBy = Literal["dense", "rerun"]  # `roadwatch eval --dense`, `roadwatch replay --rerun`
NAMESPACE_SUFFIX: dict[AskedBy, str] = {"dense": "_eval", "rerun": "_replay"}


def opinions_namespace(namespace: str, asked_by: AskedBy) -> str:
    """The namespace of `asked_by`'s opinions beside the production `namespace`."""
    return namespace + NAMESPACE_SUFFIX[asked_by]


class AskedOpinion(Contract):
    """One tier's opinion of one image, asked outside production."""

    opinion_id: str = Field(min_length=1, max_length=128)
    run_id: str = Field(min_length=1, max_length=128, description="one `eval --dense` or `replay --rerun`")
    asked_by: AskedBy
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    event_id: str | None = Field(default=None, description="rerun: the stored event it was asked for")
    source_id: str | None = None
    reference: str | None = Field(default=None, description="dense: the dataset file; rerun: the image URI")
    detector_score: float = Field(ge=0.0, le=1.0)
    truth: bool | None = Field(default=None, description="dense: the dataset's label of the image")
    opinion: TierOpinion
    asked_at: AwareDatetime

    def row(self) -> dict[str, object]:
        """The table row: the opinion's fields flattened beside the others."""
        return {**self.model_dump(exclude={"opinion"}), **self.opinion.model_dump()}


_FIELDS: list[FieldDef] = [
    ("opinion_id", StringType(), True),
    ("run_id", StringType(), True),
    ("asked_by", StringType(), True),
    ("image_sha256", StringType(), True),
    ("event_id", StringType(), False),
    ("source_id", StringType(), False),
    ("reference", StringType(), False),
    ("detector_score", DoubleType(), True),
    ("truth", BooleanType(), False),
    ("tier", StringType(), True),
    ("backend", StringType(), True),
    ("model", StringType(), True),
    ("prompt_version", StringType(), True),
    ("outcome", StringType(), True),
    ("roadwork", BooleanType(), False),
    ("confidence", DoubleType(), True),
    ("evidence", strings, True),
    ("latency_ms", DoubleType(), True),
    ("error", StringType(), False),
    ("asked_at", TimestamptzType(), True),
]


def opinions_def() -> TableDef:
    """The opinions table's declared schema, partition spec (day of `asked_at`) and sort order (image);
    field ids are stable for a given declaration."""
    schema = Schema(*struct_fields(_FIELDS, itertools.count(1)))
    asked = schema.find_field("asked_at").field_id
    sha = schema.find_field("image_sha256").field_id
    spec = PartitionSpec(PartitionField(asked, 1000, DayTransform(), "asked_day"))
    return TableDef(
        OPINIONS, schema, spec, SortOrder(SortField(source_id=sha, transform=IdentityTransform()))
    )
