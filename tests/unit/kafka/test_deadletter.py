"""Dead letters always fit their topic and never raise, whatever the record holds."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from roadwatch.errors import InvalidInputError
from roadwatch.kafka.codec import decode_keyed, encode
from roadwatch.kafka.deadletter import MAX_ORIGINAL_BYTES, RawRecord, dead_letter, failure
from roadwatch.kafka.txloop import dead_letter_output
from schemas import DeadLetter, Thresholds

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_huge_original_is_cut_to_fit_with_its_size_and_hash() -> None:
    value = b'{"event_id": "e1", "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    out = dead_letter_output(
        RawRecord("images.v1", 2, 7, b"cam-1", value), "detector", InvalidInputError("schema_invalid", "x")
    )
    letter = DeadLetter.model_validate_json(out.value)
    assert len(out.value) < 1_000_000  # Kafka's default record limit
    assert letter.truncated and letter.original_size == len(value)
    assert letter.original_sha256 == hashlib.sha256(value).hexdigest()
    assert base64.b64decode(letter.original_value_b64) == value[:MAX_ORIGINAL_BYTES]
    assert letter.event_id == "e1" and out.topic == "images.v1.dlq"


def test_deeply_nested_json_and_binary_keys_make_a_dead_letter() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    letter = dead_letter(
        RawRecord("verdicts.v1", 0, 3, b"\xff\xfe", nested), service="sink", reason="undecodable", detail=""
    )
    assert letter.event_id == "dlq:verdicts.v1:0:3"
    assert letter.source_id == "unknown" and not letter.truncated
    assert base64.b64decode(letter.original_key_b64 or "") == b"\xff\xfe"


def test_a_tombstone_is_described_too() -> None:
    letter = dead_letter(RawRecord("verdicts.v1", 0, 9, None, None), service="sink", reason="r", detail="d")
    assert (letter.original_value_b64, letter.original_key_b64, letter.original_size) == ("", None, 0)


def test_failure_names_the_reason_or_the_exception_type() -> None:
    assert failure(InvalidInputError("too_large", "big")) == ("too_large", "big")
    assert failure(ValueError("Decompressed data too large")) == (
        "internal_error: ValueError",
        "Decompressed data too large",
    )
    assert failure(RecursionError()) == ("internal_error: RecursionError", "RecursionError()")


def test_records_must_be_keyed_by_their_source() -> None:
    band = Thresholds(
        event_id="b", source_id="adv-mal", captured_at=T0, low=0, high=0, evidence=0, updated_at=T0
    )
    assert decode_keyed(Thresholds, b"adv-mal", encode(band)).source_id == "adv-mal"
    with pytest.raises(InvalidInputError) as exc:
        decode_keyed(Thresholds, b"adv-victim", encode(band))
    assert exc.value.reason == "key_mismatch"
    with pytest.raises(InvalidInputError, match="key_mismatch"):
        decode_keyed(Thresholds, None, encode(band))
