"""Encode and decode records as JSON bytes; undecodable or invalid bytes become a typed error."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from roadwatch.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)


def encode(record: BaseModel) -> bytes:
    return record.model_dump_json().encode()


def decode(model: type[M], value: bytes | None) -> M:
    """Parse `value` as `model`. Raises InvalidInputError('undecodable' | 'schema_invalid')."""
    if value is None:
        raise InvalidInputError("undecodable", "record has no value (tombstone)")
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        kinds = {e["type"] for e in exc.errors()}
        reason = "undecodable" if kinds & {"json_invalid", "json_type"} else "schema_invalid"
        raise InvalidInputError(reason, str(exc).replace("\n", " ")[:1000]) from exc
