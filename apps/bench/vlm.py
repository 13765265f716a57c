"""`roadwatch bench vlm`: a tier's throughput against an OpenAI-compatible server with fixed latency L.

With C calls in flight and every call taking L seconds, the ideal is C / L requests per second; the ratio
says how much of it the tier's machinery (bulkhead, breaker, parsing, routing, the official client) keeps.
The batches go through the same `TierPipeline` the service runs, minus Kafka.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
from PIL import Image

from apps.bench.common import percentile
from roadwatch.kafka.deadletter import RawRecord
from schemas import EscalationRequest, Verdict
from services.vlm_tier.service import build_pipeline
from services.vlm_tier.settings import tier_settings


def _records(n: int) -> list[RawRecord]:
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(buf, "JPEG")
    data = buf.getvalue()
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        req = EscalationRequest(
            event_id=f"b{i}",
            source_id="bench",
            captured_at=now,
            image_b64=base64.b64encode(data).decode(),
            image_sha256=hashlib.sha256(data).hexdigest(),
            target_tier="precision",
            detector_score=0.3,
            detections=[],
            requested_at=now,
        )
        out.append(RawRecord("escalations.precision.v1", 0, i, b"bench", req.model_dump_json().encode()))
    return out


def _serve(port: int, latency_s: float) -> subprocess.Popen[bytes]:
    """The server in its own process, so it does not share this one's GIL with the client."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apps.testing.openai_server",
            "--port",
            str(port),
            "--latency",
            str(latency_s),
        ]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the OpenAI-compatible test server did not start")


def run(
    requests: int = 640, concurrency: int = 32, latency_s: float = 0.2, port: int = 18321
) -> dict[str, Any]:
    server = _serve(port, latency_s)
    settings = tier_settings(
        "precision",
        backend="openai",
        base_url=f"http://127.0.0.1:{port}/v1",
        model="test-vlm",
        max_in_flight=concurrency,
        timeout_s=latency_s * 20,
        metrics_port=0,
    )
    pipeline = build_pipeline(settings)
    try:
        pipeline.warm_up()
        records = _records(requests)
        batch = settings.batch_size
        started = time.perf_counter()
        outputs = [o for i in range(0, requests, batch) for o in pipeline(records[i : i + batch])]
        elapsed = time.perf_counter() - started
    finally:
        pipeline.close()
        server.terminate()
        server.wait(10)
    verdicts = [Verdict.model_validate_json(o.value) for o in outputs]
    latencies = [v.opinions[-1].latency_ms for v in verdicts]
    rate, ideal = len(verdicts) / elapsed, concurrency / latency_s
    return {
        "bench": "vlm",
        "requests": requests,
        "verdicts": len(verdicts),
        "concurrency": concurrency,
        "latency_s": latency_s,
        "requests_per_s": round(rate, 2),
        "ideal_per_s": round(ideal, 2),
        "ratio": round(rate / ideal, 3),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "degraded": sum(v.degraded for v in verdicts),
    }
