"""Encode and decode records as JSON bytes; undecodable or invalid bytes become a typed error."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from roadwatch.errors import InvalidInputError
from schemas.records import Record

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K", bound=Record)


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


def decode_keyed(model: type[K], key: bytes | None, value: bytes | None) -> K:
    """Parse `value` as `model` and check the record's Kafka key is its `source_id` (keys are source ids
    everywhere: a record under another key would land in, or steer, another source's stream).

    Raises:
        InvalidInputError: `undecodable`, `schema_invalid` or `key_mismatch`.
    """
    record = decode(model, value)
    if key != record.source_id.encode():
        shown = key[:64].decode("utf-8", "replace") if key is not None else None
        raise InvalidInputError(
            "key_mismatch", f"record key {shown!r} is not its source_id {record.source_id!r}"
        )
    return record
