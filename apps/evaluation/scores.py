"""`Confusion` for the evaluation's importers; it lives in `roadwatch.analytics.scores`, which the quality
query and replay share."""

from roadwatch.analytics.scores import Confusion

__all__ = ["Confusion"]
