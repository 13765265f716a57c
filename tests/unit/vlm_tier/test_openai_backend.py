"""The `openai` backend (plain httpx) against a real (small) OpenAI-compatible server."""

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from apps.testing.openai_server import OpenAICompatibleServer, Script
from roadwatch.kafka.deadletter import RawRecord
from schemas import EscalationRequest, Verdict
from services.vlm_tier.breaker import BreakerConfig, BreakerState
from services.vlm_tier.parsing import Unparseable, parse_answer
from services.vlm_tier.pipeline import TierPipeline
from services.vlm_tier.service import build_pipeline
from services.vlm_tier.settings import tier_settings

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


IMAGE = jpeg()


def request(i: int, target: str = "power") -> RawRecord:
    req = EscalationRequest(
        event_id=f"e{i}",
        source_id="cam-1",
        captured_at=NOW,
        image_b64=base64.b64encode(IMAGE).decode(),
        image_sha256=hashlib.sha256(IMAGE).hexdigest(),
        target_tier=target,  # type: ignore[arg-type]
        detector_score=0.35,
        detections=[],
        requested_at=NOW,
    )
    return RawRecord(f"escalations.{target}.v1", 0, i, b"cam-1", req.model_dump_json().encode())


@pytest.fixture
def server() -> Iterator[OpenAICompatibleServer]:
    srv = OpenAICompatibleServer().start()
    yield srv
    srv.stop()


def pipeline_for(base_url: str, **kw: object) -> TierPipeline:
    settings = tier_settings(
        "power",
        backend="openai",
        base_url=base_url,
        model="test-vlm",
        timeout_s=0.5,
        retries=1,
        retry_base_s=0.01,
        breaker=BreakerConfig(window_size=4, minimum_calls=4, wait_in_open_s=0.3, half_open_calls=2),
        max_in_flight=4,
        **kw,
    )
    return build_pipeline(settings)


def run(p: TierPipeline, *records: RawRecord) -> list[tuple[str, object]]:
    out = []
    for o in p(list(records)):
        model = Verdict if o.topic == "verdicts.v1" else EscalationRequest
        out.append((o.topic, model.model_validate_json(o.value)))
    return out


def test_schema_valid_answer_becomes_a_verdict_and_the_request_asks_for_json_schema(server) -> None:
    p = pipeline_for(server.base_url)
    p.warm_up()
    [(topic, verdict)] = run(p, request(1))
    assert topic == "verdicts.v1" and verdict.roadwork is True and verdict.decided_by == "power"
    op = verdict.opinions[-1]
    assert (op.backend, op.model, op.prompt_version, op.outcome) == (
        "openai",
        "test-vlm",
        "roadwork-v1",
        "answered",
    )
    sent = server.script.last_request
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["messages"][1]["content"][1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    p.close()


def test_low_confidence_escalates_to_precision(server) -> None:
    server.script.confidence = 0.5
    [(topic, esc)] = run(pipeline_for(server.base_url), request(1))
    assert topic == "escalations.precision.v1" and esc.opinions[-1].confidence == 0.5


def test_the_truncated_reply_is_cut_inside_a_number_and_cannot_be_repaired() -> None:
    text = Script(mode="truncated").content()
    assert text == '{"roadwork": true, "confidence": 0.'  # half of the ok answer
    assert parse_answer(text) == Unparseable("no_json_object", text)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("malformed", "no_json_object"), ("truncated", "no_json_object"), ("offschema", "no_roadwork_field")],
)
def test_bad_answers_are_unparseable_and_escalate(server, mode: str, reason: str) -> None:
    server.script.mode = mode  # type: ignore[assignment]
    sent = server.script.content()
    [(topic, esc)] = run(pipeline_for(server.base_url), request(1))
    assert topic == "escalations.precision.v1" and esc.degraded_reasons == []
    op = esc.opinions[-1]
    assert (op.tier, op.outcome, op.roadwork, op.error) == ("power", "unparseable", None, f"{reason}: {sent}")


def test_slow_answers_time_out_and_fail_over_down(server) -> None:
    server.script.mode = "slow"
    server.script.slow_s = 2.0
    started = time.monotonic()
    [(topic, esc)] = run(pipeline_for(server.base_url), request(1))
    assert time.monotonic() - started < 2.5  # 0.5 s timeout, one retry
    assert topic == "escalations.fast.v1" and "timeout" in esc.degraded_reasons[0]


def test_500s_are_retried_then_fail_over(server) -> None:
    server.script.mode = "error500"
    [(topic, esc)] = run(pipeline_for(server.base_url), request(1))
    assert server.script.requests == 2  # first try + one retry
    assert topic == "escalations.fast.v1" and "HTTP 500" in esc.degraded_reasons[0]


def test_refused_connections_fail_over(server) -> None:
    url = server.base_url
    server.stop()
    [(topic, esc)] = run(pipeline_for(url), request(1))
    assert topic == "escalations.fast.v1" and "connection error" in esc.degraded_reasons[0]


def test_breaker_opens_fails_over_half_opens_and_closes_after_recovery(server) -> None:
    p = pipeline_for(server.base_url)
    server.script.mode = "error500"
    out = run(p, *(request(i) for i in range(4)))
    assert p.breaker.state is BreakerState.OPEN
    assert all(topic == "escalations.fast.v1" for topic, _ in out)
    calls = server.script.requests
    out = run(p, *(request(i) for i in range(4, 8)))  # refused without a call while open
    assert server.script.requests == calls
    assert all("circuit open" in e.degraded_reasons[0] for _, e in out)
    server.script.mode = "ok"
    time.sleep(0.35)
    out = run(p, request(8), request(9))  # the two half-open trial calls succeed
    assert [t for t, _ in out] == ["verdicts.v1", "verdicts.v1"]
    assert p.breaker.state is BreakerState.CLOSED


def test_a_batch_keeps_max_in_flight_calls_going_and_no_more(server) -> None:
    server.script.latency_s = 0.2
    p = pipeline_for(server.base_url)  # max_in_flight=4: 16 calls are 4 rounds of 0.2 s
    p.warm_up()
    started = time.monotonic()
    out = run(p, *(request(i) for i in range(16)))
    elapsed = time.monotonic() - started
    p.close()
    assert [t for t, _ in out] == ["verdicts.v1"] * 16 and server.script.requests == 16
    assert 0.8 <= elapsed < 1.6
