"""The typed models' constraints as vectorised checks (`model_check`): a row passes exactly when the model
takes it, and what cannot be derived is refused when the check is built."""

from __future__ import annotations

import json
from typing import Any, Literal

import pyarrow as pa
import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.sink.core import model_check


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=1)


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    score: float = Field(gt=0.0, le=1.0)
    kind: Literal["a", "b"]
    name: str | None = Field(default=None, min_length=2, pattern=r"^[a-z]+$")
    flag: bool = False  # a missing field reads as null: only the model can say it is False
    parts: list[Part]
    tags: list[Literal["x"] | None]
    at: AwareDatetime


GOOD: dict[str, Any] = {
    "score": 1.0,
    "kind": "a",
    "name": "ab",
    "flag": True,
    "parts": [{"size": 1}],
    "tags": [],
    "at": "2026-11-27T08:00:00Z",
}
THING = pa.struct(
    [
        ("score", pa.float64()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("flag", pa.bool_()),
        ("parts", pa.list_(pa.struct([("size", pa.int32())]))),
        ("tags", pa.list_(pa.string())),
        ("at", pa.string()),  # the sink reads timestamps as text
    ]
)
CHANGES: list[dict[str, Any]] = [
    {},
    {"score": 0.0},
    {"score": float("nan")},
    {"score": float("inf")},
    {"kind": "c"},
    {"name": None},
    {"name": "a"},
    {"name": "AB"},
    {"flag": None},
    {"parts": []},
    {"parts": None},
    {"parts": [{"size": 1}, {"size": 0}]},
    {"parts": [{"size": 1}, None]},
    {"parts": [{"size": None}]},
    {"tags": ["x", None]},
    {"tags": ["y"]},
    {"at": "2026-11-27T08:00:00.123456+05:30"},
    {"at": "2026-11-27T08:00:00"},
    {"at": "2026-11-27T08Z"},  # Arrow's cast reads it, the model does not
    {"at": "0000-01-01T00:00:00Z"},
    {"at": None},
]


def _takes(doc: dict[str, Any]) -> bool:
    try:
        Thing.model_validate_json(json.dumps(doc))
    except ValidationError:
        return False
    return True


def test_a_row_passes_exactly_when_the_model_takes_it() -> None:
    docs = [GOOD | change for change in CHANGES]
    passed = model_check(Thing)(pa.array(docs, THING)).to_pylist()
    assert passed == [_takes(d) for d in docs]
    assert passed.count(True) == 5  # the table is not all one way
    chunked = pa.chunked_array([pa.array(docs[:7], THING), pa.array(docs[7:], THING)])
    assert model_check(Thing)(chunked).to_pylist() == passed


def test_a_column_the_model_lacks_or_types_otherwise_is_left_to_the_model() -> None:
    extra = pa.struct([*THING, ("more", pa.int64())])
    assert model_check(Thing)(pa.array([GOOD, GOOD | {"more": 1}], extra)).to_pylist() == [True, False]
    as_text = pa.struct([("score", pa.string()) if f.name == "score" else f for f in THING])
    assert model_check(Thing)(pa.array([GOOD | {"score": "1"}], as_text)).to_pylist() == [False]


class Checked(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def small(cls, n: int) -> int:
        return n


class Even(BaseModel):
    n: int = Field(multiple_of=2)


class Strict(BaseModel):
    model_config = ConfigDict(strict=True)

    n: int


class Counts(BaseModel):
    n: dict[str, int]


class NotADigit(BaseModel):
    s: str = Field(pattern=r"^[^\d]+$")  # RE2 takes "٣" (its \d is ASCII), the model does not


@pytest.mark.parametrize("model", [Checked, Even, Strict, Counts, NotADigit])
def test_what_has_no_vectorised_check_is_refused_when_the_check_is_built(model: type[BaseModel]) -> None:
    with pytest.raises(TypeError, match="no vectorised check"):
        model_check(model)


# --- when a flush is due: rows, bytes or freshness, whichever comes first


def test_a_flush_is_due_on_rows_bytes_or_freshness_whichever_first() -> None:
    from services.sink.core import Flush, flush_due
    from services.sink.settings import SinkSettings

    s = SinkSettings(flush_rows=100, flush_bytes=1000, freshness_ms=1000, metrics_port=0)
    assert flush_due(10, 100, 0.1, s) is Flush.NOT_YET
    assert flush_due(100, 100, 0.1, s) is Flush.NOW
    assert flush_due(10, 1000, 0.1, s) is Flush.NOW
    assert flush_due(1, 1, 1.0, s) is Flush.NOW
    assert flush_due(0, 0, 1.0, s) is Flush.NOTHING_TO_FLUSH
    assert SinkSettings().freshness_ms == 1000
