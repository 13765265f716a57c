"""A tier's batch processor: every escalation in the batch goes to the backend concurrently (bounded by the
bulkhead, guarded by the breaker, retried with jitter on transient errors), then `core.decide` routes it.
A shadow (`settings.shadow`) routes nothing: it writes its opinion, tagged, on `settings.shadow_topic`."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Literal

from prometheus_client import Counter, Histogram

from roadwatch.errors import BackendError, BulkheadFullError, CircuitOpenError, InvalidInputError
from roadwatch.images.load import load_bytes
from roadwatch.inflight import InFlight
from roadwatch.kafka.codec import decode_keyed, encode
from roadwatch.kafka.deadletter import RawRecord, failure
from roadwatch.kafka.txloop import Output, dead_letter_output
from roadwatch.logs import ctx
from schemas import EscalationRequest, TierOpinion
from schemas.records import OpinionOutcome, utcnow
from services.vlm_tier.backends.base import Backend
from services.vlm_tier.breaker import Bulkhead, CircuitBreaker
from services.vlm_tier.core import Route, decide, fail_over, shadow_opinion
from services.vlm_tier.parsing import Answer, Unparseable
from services.vlm_tier.settings import TierSettings

log = logging.getLogger(__name__)
# What became of a call: the opinion's outcome, or refused by the breaker or the bulkhead (no opinion)
Outcome = OpinionOutcome | Literal["refused"]

OUTCOMES = Counter("roadwatch_vlm_outcomes_total", "Tier outcomes", ["tier", "outcome"])
ROUTED = Counter("roadwatch_vlm_routed_total", "Where a tier sent its work", ["tier", "to"])
SHADOW_SKIPPED = Counter(
    "roadwatch_vlm_shadow_skipped_total",
    "Records a shadow could not consult on (production dead-letters them; a shadow writes no dead letter)",
    ["tier", "reason"],
)
INLINE_ON_LOOP = 64 * 1024  # base64 characters of an inline image checked on the event loop (<~0.5 ms)
LATENCY = Histogram(
    "roadwatch_vlm_call_seconds",
    "Backend call latency",
    ["tier"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)


class TierPipeline:
    def __init__(self, settings: TierSettings, backend: Backend, breaker: CircuitBreaker) -> None:
        self.settings, self.backend, self.breaker = settings, backend, breaker
        self.ladder = settings.ladder()
        self.service = f"vlm-{settings.tier}"
        self._policy = settings.fetch_policy()
        self.loads = InFlight("image load")
        self._loop = asyncio.new_event_loop()
        self._bulkhead = self._loop.run_until_complete(self._make_bulkhead())

    async def _make_bulkhead(self) -> Bulkhead:
        return Bulkhead(self.settings.tier, self.settings.max_in_flight, self.settings.bulkhead_wait_s)

    def warm_up(self) -> None:
        self._loop.run_until_complete(self.backend.warm_up())

    def __call__(self, batch: list[RawRecord]) -> list[Output]:
        results = self._loop.run_until_complete(self._handle_all(batch))
        return [out for outs in results for out in outs]

    async def _handle_all(self, batch: list[RawRecord]) -> list[list[Output]]:
        return await asyncio.gather(*(self._handle(r) for r in batch))

    async def _handle(self, record: RawRecord) -> list[Output]:
        """The record's next step, or its dead letter: whatever one record raises stays with it."""
        try:
            req = decode_keyed(EscalationRequest, record.key, record.value)
            if req.target_tier != self.settings.tier:
                raise InvalidInputError(
                    "wrong_tier", f"addressed to {req.target_tier}, not {self.settings.tier}"
                )
            if req.image_b64 is not None and len(req.image_b64) <= INLINE_ON_LOOP:
                image = self._load(req)  # decoding and hashing it on the loop costs less than a thread hop
            else:  # a fetch, or a large image: a slow one holds up no other record
                image = await asyncio.to_thread(self._load, req)
            if self.settings.shadow is not None:
                return [await self._shadow(req, image, self.settings.shadow)]
            return self._route(await self._consult(req, image))
        except Exception as exc:  # noqa: BLE001 - the record becomes a dead letter with the reason
            return self._failed(record, exc)

    def _failed(self, record: RawRecord, exc: Exception) -> list[Output]:
        """The record's dead letter; a shadow's is a log line and a count instead: production dead-letters
        the same record, and a second dead letter of it would share its identity in `dead_letters`."""
        if self.settings.shadow is None:
            return [dead_letter_output(record, self.service, exc)]
        reason, detail = failure(exc)
        SHADOW_SKIPPED.labels(self.settings.tier, reason).inc()
        log.warning(
            "shadow %s skipped a record: %s: %s",
            self.settings.shadow,
            reason,
            detail[:300],
            exc_info=None if isinstance(exc, InvalidInputError) else exc,
            extra=ctx(topic=record.topic, partition=record.partition, offset=record.offset),
        )
        return []

    def _load(self, req: EscalationRequest) -> bytes:
        with self.loads.track():
            return load_bytes(req.image_uri, req.image_b64, req.image_sha256, self._policy)

    async def _consult(self, req: EscalationRequest, image: bytes) -> Route:
        now = utcnow()
        try:
            opinion = await self._ask(req, image)
        except (CircuitOpenError, BulkheadFullError) as exc:
            self._count("refused")
            return fail_over(self.ladder, req, list(req.opinions), str(exc), now)
        return decide(self.ladder, req, opinion, now)

    async def _shadow(self, req: EscalationRequest, image: bytes, variant: str) -> Output:
        """A shadow's output for `req`: its opinion, tagged (a refused call is a `failed` opinion)."""
        now = utcnow()
        try:
            opinion = await self._ask(req, image)
        except (CircuitOpenError, BulkheadFullError) as exc:
            self._count("refused")
            opinion = self._opinion("failed", time.perf_counter(), error=str(exc))
        record = shadow_opinion(req, opinion, variant, now)
        ROUTED.labels(self.settings.tier, "shadow").inc()
        return Output(self.settings.shadow_topic, record.source_id.encode(), encode(record))

    async def _ask(self, req: EscalationRequest, image: bytes) -> TierOpinion:
        """The backend's opinion of `req` (answered, unparseable or failed), counted.

        Raises:
            CircuitOpenError: the breaker refused the call.
            BulkheadFullError: no room in the bulkhead within its wait.
        """
        async with self._bulkhead:
            self.breaker.acquire()
            started = time.perf_counter()
            try:
                answer = await self._ask_with_retries(req, image)
            except BackendError as exc:
                self.breaker.record(failed=True, duration_s=time.perf_counter() - started)
                return self._counted(self._opinion("failed", started, error=str(exc)))
            except InvalidInputError as exc:  # the local backend could not decode the pixels
                self.breaker.record(failed=False, duration_s=time.perf_counter() - started)
                return self._counted(self._opinion("failed", started, error=f"{exc.reason}: {exc.detail}"))
            self.breaker.record(failed=False, duration_s=time.perf_counter() - started)
        if isinstance(answer, Answer):
            opinion = self._opinion(
                "answered",
                started,
                roadwork=answer.roadwork,
                confidence=answer.confidence,
                evidence=list(answer.evidence),
            )
        else:
            opinion = self._opinion("unparseable", started, error=f"{answer.reason}: {answer.raw[:200]}")
        return self._counted(opinion)

    def _counted(self, opinion: TierOpinion) -> TierOpinion:
        self._count(opinion.outcome)
        return opinion

    def _count(self, outcome: Outcome) -> None:
        OUTCOMES.labels(self.settings.tier, outcome).inc()

    async def _ask_with_retries(self, req: EscalationRequest, image: bytes) -> Answer | Unparseable:
        attempt = 0
        while True:
            try:
                with LATENCY.labels(self.settings.tier).time():
                    return await self.backend.ask(req, image, _content_type(image))
            except BackendError as exc:
                if not exc.transient or attempt >= self.settings.retries:
                    raise
                attempt += 1
                delay = self.settings.retry_base_s * 2 ** (attempt - 1) * (0.5 + random.random())
                log.info(
                    "transient backend error (%s), retry %d in %.2fs",
                    exc,
                    attempt,
                    delay,
                    extra=ctx(tier=self.settings.tier, event_id=req.event_id),
                )
                await asyncio.sleep(delay)

    def _opinion(
        self,
        outcome: OpinionOutcome,
        started: float,
        *,
        roadwork: bool | None = None,
        confidence: float = 0.0,
        evidence: list[str] | None = None,
        error: str | None = None,
    ) -> TierOpinion:
        return TierOpinion(
            tier=self.settings.tier,
            backend=self.backend.name,
            model=self.backend.model,
            prompt_version=self.backend.prompt_version,
            outcome=outcome,
            roadwork=roadwork,
            confidence=confidence,
            evidence=evidence or [],
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            error=error,
        )

    def _route(self, route: Route) -> list[Output]:
        if route.verdict is not None:
            v = route.verdict
            ROUTED.labels(self.settings.tier, "verdict-degraded" if v.degraded else "verdict").inc()
            return [Output(self.settings.verdicts_topic, v.source_id.encode(), encode(v))]
        if route.escalation is None:
            raise AssertionError("a decision carries a verdict or an escalation")
        e = route.escalation
        ROUTED.labels(self.settings.tier, e.target_tier).inc()
        return [Output(self.settings.topic(e.target_tier), e.source_id.encode(), encode(e))]

    def close(self) -> None:
        self._loop.run_until_complete(self.backend.close())
        self._loop.close()


def _content_type(image: bytes) -> str:
    return "image/png" if image[:4] == b"\x89PNG" else "image/jpeg"
