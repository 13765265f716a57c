"""Send labels to `labels.v1` (keyed by source_id, like every record) and wait until each is delivered."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from confluent_kafka import KafkaError, Message, Producer

from roadwatch.errors import StackError
from roadwatch.kafka.clients import idempotent_producer
from roadwatch.kafka.codec import encode
from roadwatch.kafka.produce import flush, send
from roadwatch.labels.settings import LabelSettings
from roadwatch.settings import KafkaSettings
from schemas import Label


class LabelPublisher:
    """An idempotent producer of labels; `publish` returns once every label is acknowledged."""

    def __init__(self, producer: Producer, settings: LabelSettings) -> None:
        self._producer, self._settings = producer, settings

    @classmethod
    def open(cls, kafka: KafkaSettings, settings: LabelSettings) -> LabelPublisher:
        return cls(idempotent_producer(kafka), settings)

    def publish(self, labels: Iterable[Label], progress: Callable[[int], None] | None = None) -> int:
        """Send `labels`; how many were sent.

        Raises:
            StackError: a label was refused or not delivered within the delivery timeout.
        """
        errors: list[KafkaError] = []

        def delivered(err: KafkaError | None, _: Message) -> None:
            if err is not None:
                errors.append(err)
            elif progress is not None:
                progress(1)

        sent = 0
        for lab in labels:
            send(self._producer, self._settings.topic, lab.source_id.encode(), encode(lab), delivered)
            sent += 1
        left = flush(self._producer, self._settings.delivery_timeout_s)
        if left or errors:
            first = f": {errors[0].str()}" if errors else ""
            raise StackError(
                f"{left + len(errors)} of {sent} labels not delivered to {self._settings.topic}{first}"
            )
        return sent
