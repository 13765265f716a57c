"""The tier's pipeline on inline images: small ones are checked on the event loop, large ones on a thread;
either way the backend gets the exact bytes, and a bad hash is a dead letter."""

import base64
import hashlib
import os
from datetime import UTC, datetime

import pytest

from roadwatch.kafka.deadletter import RawRecord
from schemas import DeadLetter, EscalationRequest, Verdict
from services.vlm_tier.breaker import CircuitBreaker
from services.vlm_tier.parsing import Answer
from services.vlm_tier.pipeline import INLINE_ON_LOOP, TierPipeline
from services.vlm_tier.settings import tier_settings

NOW = datetime(2026, 12, 3, tzinfo=UTC)
SMALL = b"\xff\xd8\xff" + os.urandom(1000)
LARGE = b"\xff\xd8\xff" + os.urandom(INLINE_ON_LOOP)  # its base64 is past INLINE_ON_LOOP characters


class SeeingBackend:
    """Answers roadwork for every call and keeps the bytes it was given, per event."""

    name, model, prompt_version = "fake", "m", "v1"

    def __init__(self) -> None:
        self.seen: dict[str, bytes] = {}

    async def warm_up(self) -> None:
        return None

    async def ask(self, req: EscalationRequest, image: bytes, content_type: str) -> Answer:
        self.seen[req.event_id] = image
        return Answer(True, 0.99, ())

    async def close(self) -> None:
        return None


def record(event_id: str, image: bytes, sha256: str | None = None) -> RawRecord:
    req = EscalationRequest(
        event_id=event_id,
        source_id="cam-1",
        captured_at=NOW,
        image_b64=base64.b64encode(image).decode(),
        image_sha256=sha256 or hashlib.sha256(image).hexdigest(),
        target_tier="precision",
        detector_score=0.3,
        detections=[],
        requested_at=NOW,
    )
    return RawRecord("escalations.precision.v1", 0, 0, b"cam-1", req.model_dump_json().encode(), None)


@pytest.fixture
def backend_and_pipeline():  # type: ignore[no-untyped-def]
    backend = SeeingBackend()
    settings = tier_settings("precision", retries=0)
    p = TierPipeline(settings, backend, CircuitBreaker("precision", settings.breaker))  # type: ignore[arg-type]
    yield backend, p
    p.close()


def test_small_and_large_inline_images_reach_the_backend_byte_for_byte(backend_and_pipeline) -> None:  # type: ignore[no-untyped-def]
    backend, p = backend_and_pipeline
    outputs = p([record("small", SMALL), record("large", LARGE)])
    assert [Verdict.model_validate_json(o.value).event_id for o in outputs] == ["small", "large"]
    assert backend.seen == {"small": SMALL, "large": LARGE}


def test_a_bad_hash_is_a_dead_letter_whatever_the_size(backend_and_pipeline) -> None:  # type: ignore[no-untyped-def]
    backend, p = backend_and_pipeline
    outputs = p([record("small", SMALL, "0" * 64), record("large", LARGE, "0" * 64)])
    letters = [DeadLetter.model_validate_json(o.value) for o in outputs]
    assert [o.topic for o in outputs] == ["escalations.precision.v1.dlq"] * 2
    assert [d.reason for d in letters] == ["hash_mismatch"] * 2 and backend.seen == {}
