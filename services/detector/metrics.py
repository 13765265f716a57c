"""Prometheus metrics of the detector (dead letters: `roadwatch.kafka.txloop.DEAD_LETTERS`)."""

from prometheus_client import Counter, Histogram

IMAGES = Counter("roadwatch_detector_images_total", "Images processed", ["decision"])
INFERENCE = Histogram(
    "roadwatch_detector_inference_seconds",
    "Model inference time per image",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
END_TO_END = Histogram(
    "roadwatch_detector_end_to_end_seconds",
    "Capture-to-decision latency",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
SHADOW_SKIPPED = Counter(
    "roadwatch_detector_shadow_skipped_total",
    "Records a shadow could not assess (production dead-letters them; a shadow writes no dead letter)",
    ["reason"],
)
