"""`produce(...)`: the SDK call behind `roadwatch produce`. A bad input is reported, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Message
from pydantic import ValidationError

from roadwatch.errors import ConfigError, InvalidInputError, RoadwatchError, StackError
from roadwatch.images.fetch import FetchPolicy, fetch
from roadwatch.images.inspect import ImageLimits
from roadwatch.kafka.admin import wait_until_ready
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.codec import encode
from roadwatch.kafka.produce import flush, send
from roadwatch.logs import ctx
from roadwatch.producer.events import build_event
from roadwatch.producer.inputs import expand
from roadwatch.producer.settings import ProducerSettings
from roadwatch.settings import KafkaSettings
from schemas import ImageEvent
from schemas.records import SOURCE_ID

log = logging.getLogger(__name__)
FLUSH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Failure:
    uri: str
    reason: str
    detail: str


@dataclass
class ProduceReport:
    """What happened to each input: how many were sent, and why each failure failed."""

    sent: int = 0
    event_ids: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def event_for(
    uri: str, source_id: str, settings: ProducerSettings, limits: ImageLimits, policy: FetchPolicy
) -> ImageEvent:
    """The ImageEvent `produce` sends for `uri`: fetched, validated, hashed, captured at the file's
    modification time (now, where it has none).

    Raises:
        InvalidInputError: the image cannot be read or fails the checks.
        ValidationError: the event fails its schema.
    """
    fetched = fetch(uri, policy)
    return build_event(
        fetched.data,
        uri=uri,
        source_id=source_id,
        captured_at=fetched.modified_at or datetime.now(UTC),
        limits=limits,
        inline_max_bytes=settings.inline_max_bytes,
    )


def produce(
    inputs: list[str],
    source_id: str,
    *,
    kafka: KafkaSettings | None = None,
    settings: ProducerSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> ProduceReport:
    """Validate, hash and send every image named by `inputs` as an `ImageEvent` keyed by `source_id`.

    Args:
        inputs: files, folders, globs or URLs.
        source_id: the camera / source these images come from (the Kafka key).
        kafka: broker settings (default: from the environment).
        settings: producer limits and allow-lists (default: from the environment).
        progress: called with 1 after each input is handled (sent or failed).

    Returns:
        A report; `report.ok` is False when any input failed.

    Raises:
        ConfigError: `source_id` is not a valid source id.
        AuthenticationError: the brokers refused the login (a ConfigError; nothing is read or sent).
        StackError: Kafka does not answer within `settings.connect_timeout_s` (nothing is read or sent),
            or did not acknowledge every image within FLUSH_TIMEOUT_S.
        RoadwatchError: Kafka itself fails (a delivery that the broker refused).
    """
    if not SOURCE_ID.fullmatch(source_id):
        raise ConfigError(
            f"source id {source_id!r}: 1-128 of letters, digits and . _ : - (it is the Kafka key)"
        )
    kafka = kafka or KafkaSettings()
    settings = settings or ProducerSettings()
    wait_until_ready(kafka.client_config(), timeout_s=settings.connect_timeout_s)
    limits, policy = settings.limits(), settings.fetch_policy()
    producer = idempotent_producer(kafka, **{"linger.ms": settings.linger_ms})
    report = ProduceReport()
    delivery_errors: list[str] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            delivery_errors.append(f"{msg.topic()}: {err}")

    for uri in expand(inputs):
        try:
            event = event_for(uri, source_id, settings, limits, policy)
        except (InvalidInputError, ValidationError) as exc:  # this input's failure; the others go on
            reason, detail = (exc.reason, exc.detail) if isinstance(exc, InvalidInputError) else _invalid(exc)
            report.failures.append(Failure(uri[:300], reason, detail))
            log.warning("skipped %s: %s: %s", uri[:300], reason, detail, extra=ctx(source_id=source_id))
        else:
            send(producer, settings.topic, source_id.encode(), encode(event), on_delivery)
            report.sent += 1
            report.event_ids.append(event.event_id)
        if progress:
            progress(1)
    remaining = flush(producer, FLUSH_TIMEOUT_S)
    if delivery_errors:
        shown = "; ".join(delivery_errors[:3]) + ("; ..." if len(delivery_errors) > 3 else "")
        raise RoadwatchError(
            f"Kafka at {kafka.bootstrap_servers} did not write {len(delivery_errors)} of "
            f"{report.sent} images: {shown}"
        )
    if remaining:
        raise StackError(
            f"Kafka at {kafka.bootstrap_servers} acknowledged {report.sent - remaining} of "
            f"{report.sent} images within {FLUSH_TIMEOUT_S:g}s; the others may not have been written"
        )
    return report


def _invalid(exc: ValidationError) -> tuple[str, str]:
    """An event that cannot be built from this input (e.g. a URI longer than the schema allows)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return "schema_invalid", f"{where}: {first['msg']}"
