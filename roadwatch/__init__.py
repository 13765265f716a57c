"""roadwatch: find roadwork in street-level and dashcam images, streamed through Kafka.

`roadwatch.produce` and `roadwatch.ProduceReport` are imported on first use, so that the light modules
(`roadwatch.kafka.deadletter`, used by the Flink job in its own environment) import without the client
libraries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roadwatch.producer.api import ProduceReport, produce

__all__ = ["ProduceReport", "produce"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from roadwatch.producer import api

        return getattr(api, name)
    raise AttributeError(f"module 'roadwatch' has no attribute {name!r}")
