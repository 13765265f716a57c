"""Property-based fuzzing (hypothesis) of everything that reads untrusted bytes: the record decoders of every
topic, the dead-letter builder, the thresholds reader, the Flink job's record parser, the sink's conversion
and the image inspector. Each property names the only exceptions that may escape; anything else is a bug.
Next to the random properties, every single-field edge of every record type (each leaf set to inf, nan,
2**63, a lone surrogate, a naive timestamp, ... or dropped) is checked exhaustively: a few thousand inputs
that no random run is sure to hit. The sink runs in a worker process (tests/fuzz/_sink_worker.py), so that
a native crash there fails one property with its input instead of killing the run.

Bounded in time: a fixed, derandomized number of examples per property and no example database, so a run
tests the same inputs each time (60-90 s on 2 cores, shrinking included). `ROADWATCH_FUZZ_SCALE=4` runs
four times as many examples; `ROADWATCH_FUZZ_SHRINK=0` skips shrinking. Properties that found a bug not
fixed yet are `xfail(strict=False)` with the bug in their reason; `ROADWATCH_FUZZ_STRICT=1` runs them as
plain tests, so hypothesis prints the minimal example.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta, timezone
from typing import Any

import numpy as np
import pydantic
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

from flink_jobs.records import to_event
from roadwatch.errors import InvalidInputError
from roadwatch.images.inspect import ImageLimits, decode_rgb, inspect_image
from roadwatch.kafka.codec import decode, decode_keyed, encode
from roadwatch.kafka.deadletter import RawRecord, dead_letter
from schemas.records import RECORD_TYPES, DeadLetter
from services.detector.thresholds import _update_of
from services.sink.convert import MODELS
from tests.fuzz import _sink_worker

pytestmark = pytest.mark.slow

SCALE = float(os.environ.get("ROADWATCH_FUZZ_SCALE", "1"))
STRICT = os.environ.get("ROADWATCH_FUZZ_STRICT") == "1"
SHRINK = os.environ.get("ROADWATCH_FUZZ_SHRINK", "1") != "0"

settings.register_profile(
    "roadwatch-fuzz",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    phases=list(Phase) if SHRINK else [Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
FUZZ = settings.get_profile("roadwatch-fuzz")


def examples(n: int) -> settings:
    """The fuzz profile with `n` examples (times ROADWATCH_FUZZ_SCALE)."""
    return settings(FUZZ, max_examples=max(1, round(n * SCALE)))


def known_bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(not STRICT, reason=reason, strict=False)


# ---------------------------------------------------------------------------------------------------------
# Valid records (JSON documents) of every record type: the seeds the mutations start from.

T0 = "2026-11-27T08:00:00Z"
SHA = "a" * 64
COMMON: dict[str, Any] = {"schema_version": 1, "event_id": "ev-1", "source_id": "cam-1", "captured_at": T0}
DETECTION: dict[str, Any] = {
    "label": "traffic_cone",
    "class_id": 0,
    "confidence": 0.7,
    "x1": 0.1,
    "y1": 0.2,
    "x2": 0.3,
    "y2": 0.4,
    "model": "cone",
}
OPINION: dict[str, Any] = {
    "tier": "fast",
    "backend": "local",
    "model": "cone+coco",
    "prompt_version": "local-v1",
    "outcome": "answered",
    "roadwork": True,
    "confidence": 0.9,
    "evidence": ["cone"],
    "latency_ms": 120.0,
    "error": None,
}
VALID: dict[str, dict[str, Any]] = {
    "ImageEvent": COMMON
    | {
        "image_uri": "file:///x.jpg",
        "image_b64": None,
        "image_sha256": SHA,
        "content_type": "image/jpeg",
        "width": 64,
        "height": 48,
        "size_bytes": 1234,
        "produced_at": T0,
        "attributes": {"road": "A1"},
    },
    "DetectionResult": COMMON
    | {
        "image_uri": "file:///x.jpg",
        "image_sha256": SHA,
        "detections": [DETECTION],
        "roadwork_score": 0.7,
        "decision": "roadwork",
        "band_low": 0.15,
        "band_high": 0.45,
        "models": [{"name": "cone", "version": "1", "weights_sha256": "b" * 64}],
        "decode_ms": 3.0,
        "inference_ms": 50.0,
        "detected_at": T0,
    },
    "EscalationRequest": COMMON
    | {
        "image_uri": "file:///x.jpg",
        "image_b64": None,
        "image_sha256": SHA,
        "target_tier": "power",
        "detector_score": 0.3,
        "detections": [DETECTION],
        "opinions": [OPINION],
        "degraded_reasons": ["fast_unavailable"],
        "requested_at": T0,
    },
    "Verdict": COMMON
    | {
        "roadwork": True,
        "confidence": 0.9,
        "decided_by": "fast",
        "tier_path": ["detector", "fast"],
        "opinions": [OPINION],
        "detector_score": 0.3,
        "degraded": False,
        "degraded_reason": None,
        "decided_at": T0,
    },
    "ShadowOpinion": COMMON | {"variant": "qwen", "image_sha256": SHA, "opinion": OPINION, "opined_at": T0},
    "SourceState": COMMON
    | {
        "events": 3,
        "ewma_confidence": 0.5,
        "escalation_rate": 0.1,
        "roadwork_rate": 0.4,
        "disagreement_rate": 0.0,
        "degraded_count": 0,
        "tier_counts": {"detector": 3},
        "roadwork_active": False,
        "alert": None,
        "updated_at": T0,
    },
    "Thresholds": COMMON | {"low": 0.1, "high": 0.6, "evidence": 3, "updated_at": T0},
    "Label": COMMON
    | {
        "label_id": "l-1",
        "image_sha256": "a" * 64,
        "roadwork": True,
        "origin": "dataset",
        "labelled_by": "ci",
        "reference": "images/val/a.jpg",
        "labelled_at": T0,
    },
    "DeadLetter": COMMON
    | {
        "service": "detector",
        "reason": "not_an_image",
        "detail": "x",
        "source_topic": "images.v1",
        "partition": 0,
        "offset": 7,
        "original_key_b64": "Y2FtLTE=",
        "original_value_b64": "AA==",
        "failed_at": T0,
        "truncated": False,
        "original_size": 1,
        "original_sha256": "c" * 64,
    },
}
NAMES = sorted(RECORD_TYPES)
FIELD_NAMES = sorted({k for doc in VALID.values() for k in doc} | set(DETECTION) | set(OPINION))

DECODE_REASONS = {"undecodable", "schema_invalid"}
KEYED_REASONS = DECODE_REASONS | {"key_mismatch"}
BAND_REASONS = KEYED_REASONS | {"bad_key"}
IMAGE_REASONS = {
    "empty",
    "too_large",
    "not_an_image",
    "unsupported_format",
    "too_many_pixels",
    "decompression_bomb",
    "truncated",
    "corrupt",
}

# ---------------------------------------------------------------------------------------------------------
# Strategies

CHARS = st.characters(codec=None, exclude_categories=()) | st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\ufeff", "\u2028", "\U0010ffff", '"', "\\"]
)
# a list of characters, not st.text: st.text merges the alphabet into codepoint ranges, where the
# few special characters are almost never drawn. Lone surrogates become `\udXXX` escapes in JSON.
TEXT = st.lists(CHARS, max_size=16).map("".join)
BOUNDARY_INTS = st.sampled_from(
    [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**400]
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [-0.0, 5e-324, 1.0000000000000002, 1.0 + 1e-9, -1e-300, 1e308]
)
ZONES = st.none() | st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
).map(timezone)
TIMES = st.datetimes(timezones=ZONES).map(lambda d: d.isoformat()) | st.sampled_from(
    [
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "2026-01-01T00:00:00",
        "2026-02-30T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T08:00:00.1234567Z",
        "2026-11-27 08:00:00+00:00",
        "2026-11-27T08:00:00+99:99",
        "2026-W48-5T08:00:00Z",
        "1e20",
        "-62135596800",
        "253402300800",
    ]
)
NON_FINITE = st.sampled_from([float("inf"), float("-inf"), float("nan")])
HUGE = st.builds(  # over every field's limit (2 MB values: the dead-letter property's own strategy)
    lambda c, n: c * n, st.sampled_from(["x", "\u00e9", "\\", "\ud800", "0"]), st.integers(1_000, 300_000)
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), BOUNDARY_INTS, FLOATS, TEXT, TIMES)
KEYS = st.sampled_from(FIELD_NAMES) | TEXT
JSON = st.recursive(
    SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(KEYS, c, max_size=5), max_leaves=24
)
RECORD_LIKE = st.fixed_dictionaries(
    {}, optional={"event_id": TEXT | JSON, "source_id": TEXT | JSON, "captured_at": TIMES | JSON}
).flatmap(lambda head: st.dictionaries(KEYS, JSON, max_size=4).map(lambda rest: head | rest))
DEEP = "\x00roadwatch-fuzz-deep\x00"  # a value the serializer replaces with deeply nested JSON text
DEEP_JSON = json.dumps(DEEP)
REPLACEMENTS = st.one_of(
    JSON,
    BOUNDARY_INTS,
    FLOATS,
    TIMES,
    HUGE,
    st.just(DEEP),
    st.sampled_from([[], {}, "", "1", "0.5", True, False, None, [None], {"": None}, [[]], {"a": {}}]),
).map(copy.deepcopy)  # a fresh copy: mutations change drawn values in place
INTERESTING_BYTES = [
    b"\xff\xd9",
    b"\xff\xda",
    b"\xff\xd8",
    b"\xff\xc0\x00\x11\x08\xff\xff\xff\xff",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x00\x00\x00\x00IEND\xaeB`\x82",
    b"IDAT",
    b"VP8 ",
    b'"',
    b"\\u",
    b"{",
    b"\n",
]


@st.composite
def deep_json_text(draw: st.DrawFn) -> str:
    """Deeply nested JSON text (balanced or cut short), deeper than any parser's recursion limit."""
    depth = draw(st.integers(1, 300) | st.integers(300, 20_000) | st.sampled_from([100_000, 1_000_000]))
    opener, closer = draw(
        st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"detections":[', "]}"), ('[{"event_id":', "}]")])
    )
    core = draw(st.sampled_from(["1", "null", '"x"', "[]", "{}", ""]))
    return opener * depth + core + closer * (depth if draw(st.booleans()) else depth // 2)


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes, max_ops: int = 4) -> bytes:
    """`data` with a few byte flips, overwrites, truncations, insertions, deletions or duplications."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and buf:
            buf[at] = draw(
                st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xD8, 0xD9, 0xDA, 0xC0]) | st.integers(0, 255)
            )
        elif op == "truncate":
            del buf[at:]
        elif op == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(INTERESTING_BYTES))
        elif op == "delete":
            del buf[at : at + draw(st.integers(1, 64))]
        elif op == "duplicate":
            buf[at:at] = buf[at : at + draw(st.integers(1, 256))]
    return bytes(buf)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _at(doc, path[:-1])[path[-1]] = value
    return doc


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@st.composite
def mutated_doc(draw: st.DrawFn, names: tuple[str, ...] = tuple(NAMES)) -> Any:
    """A valid record's JSON document with 1-3 mutations anywhere in it: a field dropped or added, any node
    replaced by arbitrary JSON (wrong types, huge strings, deep nesting), a number replaced by an edge value,
    a timestamp by an odd one, a string by arbitrary text, a list element appended."""
    doc: Any = copy.deepcopy(VALID[draw(st.sampled_from(names))])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        op = draw(st.sampled_from(["drop", "replace", "number", "number", "time", "string", "add", "append"]))
        if op == "number" and (nums := [p for p in paths if _is_number(_at(doc, p))]):
            doc = _set(
                doc, draw(st.sampled_from(nums)), draw(BOUNDARY_INTS | FLOATS | NON_FINITE | st.integers())
            )
            continue
        strings = [p for p in paths if isinstance(_at(doc, p), str)]
        if op == "time" and (times := [p for p in strings if _at(doc, p) == T0]):
            doc = _set(doc, draw(st.sampled_from(times)), draw(TIMES | BOUNDARY_INTS | FLOATS))
            continue
        if op == "string" and strings:
            doc = _set(doc, draw(st.sampled_from(strings)), draw(TEXT | HUGE | st.text(max_size=200)))
            continue
        path = draw(st.sampled_from(paths))
        target = _at(doc, path)
        if op == "drop" and path:
            del _at(doc, path[:-1])[path[-1]]
        elif op == "add" and isinstance(target, dict):
            target[draw(KEYS)] = draw(REPLACEMENTS)
        elif op == "append" and isinstance(target, list):
            target.append(copy.deepcopy(target[0]) if target and draw(st.booleans()) else draw(REPLACEMENTS))
        else:
            doc = _set(doc, path, draw(REPLACEMENTS))
    return doc


@st.composite
def serialized(draw: st.DrawFn, doc: Any) -> bytes:
    """`doc` as JSON bytes (ASCII escapes or raw UTF-8, lone surrogates as CESU bytes), sometimes with a few
    bytes mutated."""
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    if DEEP_JSON in text:
        text = text.replace(DEEP_JSON, draw(deep_json_text()))
    data = text.encode("utf-8", "surrogatepass")
    return draw(byte_mutations(data)) if draw(st.integers(0, 3)) == 0 else data


def valid_bytes(name: str) -> bytes:
    return json.dumps(VALID[name]).encode()


LEAVES = [
    (name, path)
    for name in NAMES
    for path in _paths(VALID[name])
    if path and not isinstance(_at(VALID[name], path), dict | list)
]
NUMBER_EDGES = st.sampled_from(
    [float("inf"), float("-inf"), float("nan"), -0.0, 1e308, 5e-324, -1, 1.0000000000000002, 1.5, 2**31]
) | st.sampled_from([2**63, 10**400, True, "1", None])
STRING_EDGES = TEXT | st.sampled_from(
    ["", "\ud800", "\x00", "a" * 129, "a" * 4097, " cam-1", "cam-1\n", "cam/1", "1", T0]
)


@st.composite
def edge_doc(draw: st.DrawFn, names: tuple[str, ...] = tuple(NAMES)) -> Any:
    """A valid record with one leaf set to an edge value of its kind (a number to inf, nan, -0.0, 2**63, a
    string to a lone surrogate or one past its limit, a timestamp to year 1 or a naive one)."""
    name, path = draw(st.sampled_from([leaf for leaf in LEAVES if leaf[0] in names]))
    doc = copy.deepcopy(VALID[name])
    leaf = _at(doc, path)
    if leaf == T0:
        value = draw(TIMES | NUMBER_EDGES)
    elif isinstance(leaf, str):
        value = draw(STRING_EDGES | NUMBER_EDGES)
    elif leaf is None:
        value = draw(REPLACEMENTS)
    else:
        value = draw(NUMBER_EDGES)
    return _set(doc, path, value)


EDGE_BYTES = st.sampled_from(
    [
        b"null",
        b" null",
        b"",
        b"{}",
        b"[]",
        b'"x"',
        b"0",
        b"true",
        b"\n",
        b"{}\n{}",
        b"\xef\xbb\xbf{}",
        b"\x00",
    ]
)


def record_bytes(names: tuple[str, ...] = tuple(NAMES)) -> st.SearchStrategy[bytes]:
    """Record values: valid, mutated, arbitrary JSON, deeply nested JSON, arbitrary bytes."""
    return st.one_of(
        st.sampled_from(names).map(valid_bytes),
        mutated_doc(names).flatmap(serialized),
        mutated_doc(names).flatmap(serialized),
        mutated_doc(tuple(NAMES)).flatmap(serialized),
        JSON.flatmap(serialized),
        RECORD_LIKE.flatmap(serialized),
        edge_doc(names).map(lambda doc: json.dumps(doc).encode()),
        edge_doc(names).map(lambda doc: json.dumps(doc).encode()),
        EDGE_BYTES,
        deep_json_text().map(str.encode),
        st.binary(max_size=512),
    )


VALUES = st.none() | record_bytes()
# (record type, a value for it): mostly that type's own records, valid or mutated, then anything else
NAMED_VALUES = st.sampled_from(NAMES).flatmap(lambda n: st.tuples(st.just(n), st.none() | record_bytes((n,))))
KEY_CHOICES = st.one_of(
    st.just("match"),
    st.just("match"),
    st.none(),
    st.binary(max_size=140),
    st.sampled_from([b"", b"cam-1", b"cam-1\x00", b"CAM-1", "cam-\u00e9".encode(), b"\xff" * 2000]),
)


def source_key(value: bytes | str | None) -> bytes:
    """The record's own source_id as a key, where it has one (else the seeds' `cam-1`)."""
    try:
        source = json.loads(value)["source_id"]  # type: ignore[arg-type]
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return b"cam-1"
    return source.encode("utf-8", "surrogatepass") if isinstance(source, str) else b"cam-1"


def key_for(choice: bytes | str | None, value: bytes | None) -> bytes | None:
    return source_key(value) if choice == "match" else choice  # type: ignore[return-value]


def expect_invalid(call: Callable[[], Any], reasons: set[str]) -> Any:
    """The call's result, or None when it raised InvalidInputError with one of `reasons`; anything else
    propagates (and fails the property)."""
    try:
        return call()
    except InvalidInputError as exc:
        assert exc.reason in reasons, exc
        return None


# ---------------------------------------------------------------------------------------------------------
# Record decoders of every topic


def test_every_record_type_has_a_valid_seed() -> None:
    assert sorted(VALID) == NAMES
    for name, doc in VALID.items():
        assert decode(RECORD_TYPES[name], valid_bytes(name)) == RECORD_TYPES[name].model_validate(doc)


@examples(500)
@given(named=NAMED_VALUES)
def test_decode_raises_only_invalid_input(named: tuple[str, bytes | None]) -> None:
    name, value = named
    model = RECORD_TYPES[name]
    record = expect_invalid(lambda: decode(model, value), DECODE_REASONS)
    assert record is None or isinstance(record, model)


@examples(350)
@given(named=NAMED_VALUES, choice=KEY_CHOICES)
def test_decode_keyed_raises_only_invalid_input(named: tuple[str, bytes | None], choice: Any) -> None:
    name, value = named
    model, key = RECORD_TYPES[name], key_for(choice, value)
    record = expect_invalid(lambda: decode_keyed(model, key, value), KEYED_REASONS)
    if record is not None:
        assert isinstance(record, model)
        assert key == record.source_id.encode()


# ---------------------------------------------------------------------------------------------------------
# Dead letters

BIG_VALUES = st.builds(
    lambda c, n: c * n,
    st.sampled_from([b"\xff", b"x", b"{", b"["]),
    st.integers(256 * 1024 - 2, 2_100_000),
)
BIG_RECORDS = st.builds(
    lambda event_id, filler: json.dumps({"event_id": event_id, "source_id": "cam-1", "pad": filler}).encode(),
    TEXT,
    st.integers(256 * 1024, 2_000_000).map(lambda n: "\u00e9" * (n // 2)),
)
DL_VALUES = st.one_of(
    st.none(),
    VALUES,
    BIG_VALUES,
    BIG_RECORDS,
    JSON.flatmap(serialized),
    RECORD_LIKE.flatmap(serialized),
    RECORD_LIKE.flatmap(serialized),
    deep_json_text().map(str.encode),
)
DL_KEYS = st.one_of(
    st.none(),
    st.binary(max_size=64),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(1000, 5000).map(lambda n: b"\xff" * n),
    st.sampled_from([b"", b"cam-1", b"cam-1\n", b"\ncam-1", b"cam 1", b"a" * 129]),
)


@examples(300)
@given(
    key=DL_KEYS,
    value=DL_VALUES,
    reason=st.text(max_size=300),
    detail=st.text(max_size=3000) | st.integers(3000, 1_000_000).map(lambda n: "\u00e9" * n),
    timestamp=st.none() | st.just(1_700_000_000_000),
)
def test_dead_letter_never_raises_and_fits_a_kafka_record(
    key: bytes | None, value: bytes | None, reason: str, detail: str, timestamp: int | None
) -> None:
    raw = RawRecord("images.v1", 3, 42, key, value, timestamp)
    letter = dead_letter(raw, service="detector", reason=reason, detail=detail)
    assert len(encode(letter)) < 1_000_000
    assert letter.original_size == len(value or b"")


@examples(150)
@given(
    topic=st.from_regex(r"\A[a-zA-Z0-9._-]{1,249}\Z")
    | st.builds(lambda c, n: c * n, st.sampled_from("a.-_"), st.integers(1, 249)),
    partition=st.integers(0, 2**31 - 1),
    offset=st.integers(0, 2**63 - 1),
    timestamp=st.none()
    | st.integers(0, 2**63 - 1)
    | st.sampled_from([1, 253_402_300_799_999, 253_402_300_800_000, 2**63 - 1]),  # year 9999 ends
    value=st.none() | st.binary(max_size=64),
)
def test_dead_letter_takes_any_kafka_coordinates(
    topic: str, partition: int, offset: int, timestamp: int | None, value: bytes | None
) -> None:
    letter = dead_letter(
        RawRecord(topic, partition, offset, b"cam-1", value, timestamp), service="s", reason="r", detail="d"
    )
    assert decode(DeadLetter, encode(letter)) == letter


# ---------------------------------------------------------------------------------------------------------
# The thresholds reader and the Flink job's parser

THRESHOLD_VALUES = st.one_of(
    st.none(), st.none(), record_bytes(("Thresholds",)), record_bytes(("Thresholds",)), VALUES
)


@examples(300)
@given(value=THRESHOLD_VALUES, choice=KEY_CHOICES)
def test_update_of_raises_only_invalid_input(value: bytes | None, choice: Any) -> None:
    key = key_for(choice, value)
    update = expect_invalid(lambda: _update_of(key, value), BAND_REASONS)
    if update is not None:
        assert key == update.source_id.encode()
        b = update.band
        assert b is None if value is None else 0.0 <= b.low <= b.high <= 1.0


FLINK_VALUES = record_bytes(("DetectionResult", "Verdict"))


@examples(300)
@given(
    kind=st.sampled_from(["detection", "verdict"]),
    value=st.one_of(
        st.none(),
        FLINK_VALUES,
        FLINK_VALUES.map(lambda b: b.decode("utf-8", "surrogateescape")),  # PyFlink hands str
        FLINK_VALUES.map(lambda b: b.decode("utf-8", "replace")),
    ),
)
def test_to_event_raises_only_validation_error(kind: str, value: bytes | str | None) -> None:
    try:
        event = to_event(kind, value)
    except pydantic.ValidationError:
        return
    assert event.kind == kind


# ---------------------------------------------------------------------------------------------------------
# The sink's conversion (in a worker process: see tests/fuzz/_sink_worker.py)

TABLES = sorted(MODELS)
_WORKER: list[ProcessPoolExecutor] = []


@pytest.fixture(scope="module", autouse=True)
def _stop_sink_worker() -> Iterator[None]:
    yield
    while _WORKER:
        _WORKER.pop().shutdown(wait=True)


def _sink_pool() -> ProcessPoolExecutor:
    if not _WORKER:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([_sink_worker.__name__])
        _WORKER.append(ProcessPoolExecutor(1, mp_context=context))
    return _WORKER[0]


def _worker_died() -> str:
    """How the worker died (its exit code, -SIGSEGV for a segfault); the next call starts a fresh one."""
    pool = _WORKER.pop()
    codes = [proc.exitcode for proc in getattr(pool, "_processes", {}).values()]  # private, best effort
    pool.shutdown(wait=True)
    if codes and isinstance(codes[0], int) and codes[0] < 0:
        return f"killed by {signal.Signals(-codes[0]).name}"
    return f"exit code {codes[0]!r}" if codes else "a native crash"


def in_sink_worker(table: str, pairs: list[tuple[bytes | None, bytes | None]]) -> _sink_worker.Summary:
    """`_sink_worker.summary(table, pairs)` in the worker process (forked from a server that imported the
    sink once, so a crash costs a fresh worker, not a fresh import). What it raises is raised here; a crash
    of the worker is an AssertionError."""
    try:
        return _sink_pool().submit(_sink_worker.summary, table, pairs).result(timeout=120)
    except BrokenProcessPool:
        raise AssertionError(f"the sink's process died converting this batch: {_worker_died()}") from None


def in_sink_summaries(
    table: str, batches: list[list[tuple[bytes | None, bytes | None]]]
) -> list[_sink_worker.Summary | str]:
    """`_sink_worker.summaries` in the worker process (one call for many batches)."""
    try:
        return _sink_pool().submit(_sink_worker.summaries, table, batches).result(timeout=300)
    except BrokenProcessPool:
        raise AssertionError(f"the sink's process died converting these batches: {_worker_died()}") from None


@st.composite
def sink_batch(draw: st.DrawFn) -> tuple[str, list[tuple[bytes | None, bytes | None]]]:
    """A table and a batch of 1-8 (key, value) records for it: valid records (so the fast path runs),
    mutated ones, other records, arbitrary JSON or bytes, tombstones."""
    table = draw(st.sampled_from(TABLES))
    own = (MODELS[table].__name__,)
    values = st.one_of(
        st.just(valid_bytes(own[0])),
        st.just(valid_bytes(own[0])),
        mutated_doc(own).flatmap(serialized),
        mutated_doc(own).flatmap(serialized),
        record_bytes(),
        st.none(),
    )
    pairs = draw(st.lists(st.tuples(KEY_CHOICES, values), min_size=1, max_size=8))
    return table, [(key_for(choice, value), value) for choice, value in pairs]


@examples(200)
@given(batch=sink_batch())
def test_to_arrow_never_raises_and_keeps_every_message(
    batch: tuple[str, list[tuple[bytes | None, bytes | None]]],
) -> None:
    table, pairs = batch
    result = in_sink_worker(table, pairs)
    assert result.rows + result.dead == len(pairs)
    assert result.dead_letters == result.dead
    assert result.schema_ok


def _model_accepts(table: str, key: bytes | None, value: bytes | None) -> bool:
    model = MODELS[table]
    call = (
        (lambda: decode(model, value))
        if table == "dead_letters"
        else (lambda: decode_keyed(model, key, value))
    )
    return expect_invalid(call, KEYED_REASONS) is not None


# ---------------------------------------------------------------------------------------------------------
# Every single-field edge of every record type, exhaustively (cheap, and no luck needed to hit one field)

NUMBER_EDGE_LIST = [float("inf"), float("-inf"), float("nan"), -0.0, 1e308, 5e-324, -1, 1.0000000000000002]
NUMBER_EDGE_LIST += [1.5, 2**31, 2**63, 10**400, True, "1", None]
STRING_EDGE_LIST = ["", "\ud800", "\x00", "a" * 129, "a" * 4097, " cam-1", "cam-1\n", "cam/1", T0]
TIME_EDGE_LIST = [
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "2026-01-01T00:00:00",
    "2026-02-30T00:00:00Z",
    "2026-11-27T24:00:00Z",
    "2026-11-27T08:00:00.1234567Z",
    "2026-11-27T08:00:00+99:99",
    "1e20",
    "253402300800",
]
MISSING = object()


def single_field_edges(names: tuple[str, ...] = tuple(NAMES)) -> Iterator[tuple[str, str, Any, bytes]]:
    """(record type, field path, edge value, the record's JSON) for every leaf of every valid seed set to
    every edge value of its kind, or dropped."""
    for name, path in LEAVES:
        if name not in names:
            continue
        leaf = _at(VALID[name], path)
        if leaf == T0:
            values = TIME_EDGE_LIST + NUMBER_EDGE_LIST
        elif isinstance(leaf, str):
            values = STRING_EDGE_LIST + NUMBER_EDGE_LIST
        elif leaf is None:
            values = [[], {}, "", 0, "x", True]
        else:
            values = NUMBER_EDGE_LIST
        for value in [MISSING, *values]:
            doc = copy.deepcopy(VALID[name])
            if value is MISSING:
                del _at(doc, path[:-1])[path[-1]]
            else:
                doc = _set(doc, path, value)
            shown = "missing" if value is MISSING else repr(value)[:40]
            yield name, ".".join(map(str, path)), shown, json.dumps(doc).encode()


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:240]


def _listed(failures: list[str]) -> str:
    return f"{len(failures)} single-field edges:\n" + "\n".join(failures[:40])


def test_single_field_edges_raise_only_invalid_input() -> None:
    for name, _, _, value in single_field_edges():
        model = RECORD_TYPES[name]
        expect_invalid(lambda: decode(model, value), DECODE_REASONS)  # noqa: B023 - called at once
        expect_invalid(lambda: decode_keyed(model, b"cam-1", value), KEYED_REASONS)  # noqa: B023
        if name == "Thresholds":
            expect_invalid(lambda: _update_of(b"cam-1", value), BAND_REASONS)  # noqa: B023
        if name in ("DetectionResult", "Verdict"):
            kind = "detection" if name == "DetectionResult" else "verdict"
            with contextlib.suppress(pydantic.ValidationError):
                to_event(kind, value)


def test_single_field_edges_that_decode_encode_back() -> None:
    failures = []
    for name, path, shown, value in single_field_edges():
        model = RECORD_TYPES[name]
        record = expect_invalid(lambda: decode(model, value), DECODE_REASONS)  # noqa: B023
        if record is None:
            continue
        again = expect_invalid(lambda: decode(model, encode(record)), DECODE_REASONS)  # noqa: B023
        if again != record:
            failures.append(f"{name}.{path} = {shown}: encode(decode(x)) is {encode(record)[-120:]!r}")
    assert not failures, _listed(failures)


def _sink_cases() -> Iterator[tuple[str, str, list[tuple[bytes | None, bytes | None]]]]:
    """(what, table, batch): a valid record followed by the same record under another key (none, another
    source's, one with a newline), then each single-field edge of the table's record alone."""
    for table in TABLES:
        valid = valid_bytes(MODELS[table].__name__)
        for key in (None, b"cam-2", b"cam-1\n", b""):
            yield f"{table}: a valid record, then one keyed {key!r}", table, [(b"cam-1", valid), (key, valid)]
        for name, path, shown, value in single_field_edges((MODELS[table].__name__,)):
            yield f"{name}.{path} = {shown}", table, [(b"cam-1", value)]


@functools.cache
def _sink_results() -> list[tuple[str, list[int], _sink_worker.Summary | str]]:
    """(what, the offsets the typed model accepts, the sink's conversion of the batch) of every case."""
    cases = list(_sink_cases())
    out = []
    for table in TABLES:
        mine = [(what, pairs) for what, t, pairs in cases if t == table]
        results = in_sink_summaries(table, [pairs for _, pairs in mine])
        for (what, pairs), result in zip(mine, results, strict=True):
            accepted = [i for i, (key, value) in enumerate(pairs) if _model_accepts(table, key, value)]
            out.append((what, accepted, result))
    return out


def test_single_field_edges_sink_never_raises() -> None:
    failures = [
        f"{what}: to_arrow raised {result}" for what, _, result in _sink_results() if isinstance(result, str)
    ]
    assert not failures, _listed(failures)


def test_single_field_edges_sink_rows_are_what_the_model_accepts() -> None:
    failures = [
        f"{what}: sink rows {result.row_offsets}, the model accepts {accepted}"
        for what, accepted, result in _sink_results()
        if not isinstance(result, str) and result.row_offsets != accepted
    ]
    assert not failures, _listed(failures)


def test_single_field_edges_dead_letter_never_raises() -> None:
    failures = []
    for name, path, shown, value in single_field_edges():
        for key in (b"cam-1", b"cam-1\n", None):
            try:
                letter = dead_letter(
                    RawRecord("images.v1", 0, 1, key, value), service="s", reason="r", detail="d"
                )
                assert len(encode(letter)) < 1_000_000
            except Exception as exc:  # noqa: BLE001 - listed below
                failures.append(
                    f"{name}.{path} = {shown}, key {key!r}: {type(exc).__name__}: {_first_line(exc)}"
                )
    assert not failures, _listed(failures)


# ---------------------------------------------------------------------------------------------------------
# The image layer

LIMITS = ImageLimits()


def _image(fmt: str, mode: str, w: int, h: int, **save: Any) -> bytes:
    pixels = np.random.default_rng(w * 31 + h).integers(0, 255, (h, w, 3), np.uint8)
    img = Image.fromarray(pixels).convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def _rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _image("JPEG", "RGB", 12, 8, exif=exif.tobytes())


IMAGE_SEEDS = [
    _image("JPEG", "RGB", 16, 12),
    _image("JPEG", "L", 9, 7, quality=30),
    _image("JPEG", "RGB", 16, 16, progressive=True),
    _image("JPEG", "CMYK", 8, 8),
    _rotated_jpeg(),
    _image("PNG", "RGB", 12, 9),
    _image("PNG", "RGBA", 7, 5),
    _image("PNG", "P", 10, 10),
    _image("PNG", "1", 13, 3),
    _image("PNG", "RGB", 8, 8, interlace=1),
    _image("WEBP", "RGB", 16, 12, quality=50),
    _image("WEBP", "RGBA", 9, 9, lossless=True),
    _image("BMP", "RGB", 11, 7),
    _image("BMP", "P", 8, 4),
]
MAGIC = [
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"RIFF\xff\x00\x00\x00WEBPVP8 ",
    b"RIFF\xff\x00\x00\x00WEBPVP8L",
    b"BM",
]
IMAGES = st.one_of(
    st.binary(max_size=2048),
    st.tuples(st.sampled_from(MAGIC), st.binary(max_size=512)).map(b"".join),
    st.sampled_from(IMAGE_SEEDS),
    st.sampled_from(IMAGE_SEEDS).flatmap(lambda d: byte_mutations(d, 6)),
    st.sampled_from(IMAGE_SEEDS).flatmap(lambda d: byte_mutations(d, 6)),
    st.sampled_from(IMAGE_SEEDS).flatmap(lambda d: byte_mutations(d, 6)),
)


def test_every_image_seed_is_accepted() -> None:
    for data in IMAGE_SEEDS:
        info = inspect_image(data, LIMITS)
        assert decode_rgb(data, LIMITS).shape[:2] in ((info.height, info.width), (info.width, info.height))


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the corrupt EXIF it skips
@examples(1000)
@given(data=IMAGES)
def test_inspect_image_raises_only_invalid_input(data: bytes) -> None:
    info = expect_invalid(lambda: inspect_image(data, LIMITS), IMAGE_REASONS)
    if info is not None:
        assert info.size_bytes == len(data)
        assert info.width > 0 and info.height > 0


@pytest.mark.filterwarnings("ignore::UserWarning")
@examples(600)
@given(data=IMAGES)
def test_decode_rgb_raises_only_invalid_input(data: bytes) -> None:
    pixels = expect_invalid(lambda: decode_rgb(data, LIMITS), IMAGE_REASONS)
    if pixels is not None:
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


def _is_jpeg(data: bytes) -> bool:
    """What both the sniffer and Pillow take for a JPEG: the one format inspect_image does not decode."""
    return data.startswith(b"\xff\xd8\xff")


def _agree(data: bytes) -> None:
    info = expect_invalid(lambda: inspect_image(data, LIMITS), IMAGE_REASONS)
    pixels = expect_invalid(lambda: decode_rgb(data, LIMITS), IMAGE_REASONS)
    assert (info is None) == (pixels is None), f"inspect_image {info}, decode_rgb {pixels is not None}"
    if info is not None:
        assert pixels.shape[:2] in ((info.height, info.width), (info.width, info.height))


@pytest.mark.filterwarnings("ignore::UserWarning")
@examples(500)
@given(data=IMAGES.filter(lambda d: not _is_jpeg(d)))
def test_inspect_image_and_decode_rgb_agree(data: bytes) -> None:
    _agree(data)


@known_bug(
    "inspect_image reads a JPEG's structure only (microseconds; a decode costs the producer milliseconds), "
    "decode_rgb decodes: a JPEG whose Huffman or quantization tables, scan header or entropy-coded data "
    "are corrupt passes inspect_image and fails decode_rgb ('truncated', 'broken data stream'): the "
    "detector dead-letters it, nothing is lost, but the producer said it was sent as an image"
)
@pytest.mark.filterwarnings("ignore::UserWarning")
@examples(500)
@given(data=IMAGES.filter(_is_jpeg))
def test_inspect_image_and_decode_rgb_agree_on_jpeg(data: bytes) -> None:
    _agree(data)
