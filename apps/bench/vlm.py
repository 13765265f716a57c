"""`roadwatch bench vlm`: a tier's throughput against an OpenAI-compatible server with fixed latency L.

With C calls in flight and every call taking L seconds, the ideal is C / L requests per second; the ratio
says how much of it the tier's machinery (bulkhead, breaker, parsing, routing, its HTTP client) keeps. The
server is `apps.testing.openai_server.serve` (asyncio, like vLLM's) in its own process.
The batches go through the same `TierPipeline` the service runs, minus Kafka, in transactions of ~8 rounds
of C (`batch_size`), with a barrier between them as in the service. Rounds at C = 32 and C = 128 alternate
against one server process; each figure is its median round's, the spread is printed beside it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import statistics
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
    """The stand-in VLM in its own process, so it does not share this one's GIL with the client."""
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


def _round(records: list[RawRecord], port: int, concurrency: int, latency_s: float) -> dict[str, Any]:
    """One timed pass of `records` through a fresh pipeline with `concurrency` calls in flight."""
    settings = tier_settings(
        "precision",
        backend="openai",
        base_url=f"http://127.0.0.1:{port}/v1",
        model="test-vlm",
        max_in_flight=concurrency,
        batch_size=max(256, 8 * concurrency),  # ~8 rounds of max_in_flight per transaction, as the default
        timeout_s=latency_s * 20,
        metrics_port=0,
    )
    pipeline = build_pipeline(settings)
    try:
        pipeline.warm_up()
        batch = settings.batch_size
        started = time.perf_counter()
        outputs = [o for i in range(0, len(records), batch) for o in pipeline(records[i : i + batch])]
        elapsed = time.perf_counter() - started
    finally:
        pipeline.close()
    verdicts = [Verdict.model_validate_json(o.value) for o in outputs]
    return {
        "batch_size": batch,
        "rate": len(verdicts) / elapsed,
        "latencies": [v.opinions[-1].latency_ms for v in verdicts],
        "verdicts": len(verdicts),
        "degraded": sum(v.degraded for v in verdicts),
    }


def _summary(
    concurrency: int, requests: int, latency_s: float, rounds: list[dict[str, Any]]
) -> dict[str, Any]:
    """The median round's rate against the ideal, the spread of the ratio over the rounds, the latencies."""
    ideal = concurrency / latency_s
    ratios = sorted(r["rate"] / ideal for r in rounds)
    latencies = [ms for r in rounds for ms in r["latencies"]]
    return {
        "concurrency": concurrency,
        "requests": requests,
        "batch_size": rounds[0]["batch_size"],
        "verdicts": sum(r["verdicts"] for r in rounds),
        "requests_per_s": round(statistics.median(r["rate"] for r in rounds), 2),
        "ideal_per_s": round(ideal, 2),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_min": round(ratios[0], 3),
        "ratio_max": round(ratios[-1], 3),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "degraded": sum(r["degraded"] for r in rounds),
    }


def run(
    requests: int = 2048,
    requests_c128: int = 4096,
    rounds: int = 3,
    latency_s: float = 0.2,
    port: int = 18321,
) -> dict[str, Any]:
    """`rounds` alternating rounds at 32 and at 128 calls in flight against one server; each level's
    figures are its median round's, with the spread of the ratio (`ratio_min`, `ratio_max`). The keys
    without a suffix are those at 32 in flight; `..._c128` those at 128."""
    levels = {32: requests, 128: requests_c128}
    records = _records(max(levels.values()))
    server = _serve(port, latency_s)
    done: dict[int, list[dict[str, Any]]] = {c: [] for c in levels}
    try:
        for _ in range(rounds):
            for concurrency, n in levels.items():
                done[concurrency].append(_round(records[:n], port, concurrency, latency_s))
    finally:
        server.terminate()
        server.wait(10)
    out: dict[str, Any] = {"bench": "vlm", "latency_s": latency_s, "rounds": rounds}
    out |= _summary(32, requests, latency_s, done[32])
    out |= {f"{k}_c128": v for k, v in _summary(128, requests_c128, latency_s, done[128]).items()}
    return out
