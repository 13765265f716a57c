"""roadwatch: find roadwork in street-level and dashcam images, streamed through Kafka."""

from roadwatch.producer.api import ProduceReport, produce

__all__ = ["ProduceReport", "produce"]
