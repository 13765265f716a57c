"""Property-based fuzzing (hypothesis) of everything that reads untrusted bytes: the record decoders of every
topic, the dead-letter builder, the thresholds reader, the Flink job's record parser, the sink's conversion
and the image inspector. Each property names the only exceptions that may escape; anything else is a bug.

Bounded in time: every property runs a fixed, derandomized number of examples with no example database, so
a run tests the same inputs each time (about a minute on 2 cores). `ROADWATCH_FUZZ_SCALE=4` runs four times
as many examples. The properties that found a bug not fixed yet are `xfail(strict=False)` with the bug in
their reason; `ROADWATCH_FUZZ_STRICT=1` runs them as plain tests, so hypothesis prints the minimal example.
"""

from __future__ import annotations

import copy
import io
import json
import os
from datetime import timedelta, timezone
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pydantic
import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from flink_jobs.records import to_event
from roadwatch.errors import InvalidInputError
from roadwatch.images.inspect import ImageLimits, decode_rgb, inspect_image
from roadwatch.kafka.codec import decode, decode_keyed, encode
from roadwatch.kafka.deadletter import RawRecord, dead_letter
from schemas.records import RECORD_TYPES, DeadLetter, Record
from schemas.tables import table_def
from services.detector.thresholds import _band_of
from services.sink.convert import MODELS, to_arrow

pytestmark = pytest.mark.slow

SCALE = float(os.environ.get("ROADWATCH_FUZZ_SCALE", "1"))
STRICT = os.environ.get("ROADWATCH_FUZZ_STRICT") == "1"

settings.register_profile(
    "roadwatch-fuzz",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
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
TEXT = st.text(CHARS, max_size=16)  # includes lone surrogates: `\udXXX` escapes once dumped as JSON
BOUNDARY_INTS = st.sampled_from(
    [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**400]
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [-0.0, 5e-324, 1.0000000000000002, 1.0 + 1e-9, -1e-300, 1e308]
)
