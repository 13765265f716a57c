"""The detector's batch processor: decode events, load pixels in a worker pool while the models run on the
images already loaded, score, decide, and return every record to publish (dead letters included).

A shadow (`settings.shadow`) publishes only its variant-tagged detections, on `settings.shadow_topic`: no
verdict, no escalation, and no dead letter (production dead-letters the same record, and a second dead
letter of it would share its identity in `dead_letters`); what it cannot assess is logged and counted."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from roadwatch.errors import InvalidInputError
from roadwatch.images.load import load_rgb
from roadwatch.inflight import InFlight
from roadwatch.kafka.codec import decode_keyed, encode
from roadwatch.kafka.deadletter import RawRecord, failure
from roadwatch.kafka.txloop import Output, dead_letter_output
from roadwatch.logs import ctx
from roadwatch.vision.engines.base import Engine
from roadwatch.vision.scoring import BandBook
from schemas import Detection, ImageEvent
from schemas.records import utcnow
from services.detector import metrics
from services.detector.core import Assessment, Timings, assess
from services.detector.settings import DetectorSettings

log = logging.getLogger(__name__)
SERVICE = "detector"


class DetectorPipeline:
    """Callable processor for `TransactionalLoop`; also used directly by `eval` and the benchmark."""

    def __init__(self, settings: DetectorSettings, engines: list[Engine], bands: BandBook) -> None:
        self._settings, self._engines, self._bands = settings, engines, bands
        self._policy, self._limits = settings.fetch_policy(), settings.limits()
        self._pool = ThreadPoolExecutor(settings.decode_workers, thread_name_prefix="decode")
        self.loads = InFlight("image load")

    def warm_up(self, runs: int) -> None:
        """Run the models on a blank frame so the first real batch pays no start-up cost."""
        frame = np.full((480, 752, 3), 114, np.uint8)
        for _ in range(runs):
            self.detect(frame)

    def detect(self, image: np.ndarray) -> list[Detection]:
        return [d for engine in self._engines for d in engine.detect([image])[0]]

    def _load(self, event: ImageEvent) -> tuple[list[Any], float]:
        """Fetch, verify, decode and prepare for every engine (runs in the decode pool)."""
        started = time.perf_counter()
        with self.loads.track():
            pixels = load_rgb(
                event.image_uri, event.image_b64, event.image_sha256, self._policy, self._limits
            )
        prepared = [engine.prepare(pixels) for engine in self._engines]
        return prepared, (time.perf_counter() - started) * 1000

    def __call__(self, batch: list[RawRecord]) -> list[Output]:
        """Every record's outputs, or its dead letter: whatever one record or its image raises stays with
        that record (the per-record guard)."""
        outputs: list[Output] = []
        pending: list[tuple[RawRecord, ImageEvent, Future[tuple[list[Any], float]]]] = []
        for record in batch:
            try:
                event = decode_keyed(ImageEvent, record.key, record.value)
            except Exception as exc:  # noqa: BLE001 - the record becomes a dead letter with the reason
                outputs.extend(self._failed(record, exc))
                continue
            pending.append((record, event, self._pool.submit(self._load, event)))
        for record, event, future in pending:
            try:
                outputs.extend(self._assess(event, *future.result()))
            except Exception as exc:  # noqa: BLE001 - the record becomes a dead letter with the reason
                outputs.extend(self._failed(record, exc))
        return outputs

    def _failed(self, record: RawRecord, exc: Exception) -> list[Output]:
        """The record's dead letter; a shadow's is a log line and a count instead (see the module)."""
        if self._settings.shadow is None:
            return [dead_letter_output(record, SERVICE, exc)]
        reason, detail = failure(exc)
        metrics.SHADOW_SKIPPED.labels(reason).inc()
        log.warning(
            "shadow %s skipped a record: %s: %s",
            self._settings.shadow,
            reason,
            detail[:300],
            exc_info=None if isinstance(exc, InvalidInputError) else exc,
            extra=ctx(topic=record.topic, partition=record.partition, offset=record.offset),
        )
        return []

    def _assess(self, event: ImageEvent, prepared: list[Any], decode_ms: float) -> list[Output]:
        started = time.perf_counter()
        detections = [
            d for eng, prep in zip(self._engines, prepared, strict=True) for d in eng.infer([prep])[0]
        ]
        inference_s = time.perf_counter() - started
        metrics.INFERENCE.observe(inference_s)
        assessment = assess(
            event,
            detections,
            [e.ref for e in self._engines],
            self._bands.for_source(event.source_id),
            Timings(decode_ms, inference_s * 1000),
            utcnow(),
            variant=self._settings.shadow,
        )
        return self._records(assessment)

    def _records(self, assessment: Assessment) -> list[Output]:
        key = assessment.result.source_id.encode()
        metrics.IMAGES.labels(assessment.result.decision).inc()
        metrics.END_TO_END.observe(
            (assessment.result.detected_at - assessment.result.captured_at).total_seconds()
        )
        s = self._settings
        if s.shadow is not None:
            return [Output(s.shadow_topic, key, encode(assessment.result))]
        out = [Output(s.detections_topic, key, encode(assessment.result))]
        if assessment.verdict is not None:
            out.append(Output(s.verdicts_topic, key, encode(assessment.verdict)))
        if assessment.escalation is not None:
            out.append(Output(s.escalation_topic, key, encode(assessment.escalation)))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True)
