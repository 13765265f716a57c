"""The pure parts of `roadwatch bench pipeline`: what one open-loop step measured, whether the pipeline kept
up with it, and which rate to try next (grow until a step fails, then bisect between the highest rate that
held and the lowest that did not)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from apps.bench.common import percentile


@dataclass(frozen=True)
class Bounds:
    """When a step counts as sustained.

    - `keep_up`: verdicts that became visible in Iceberg during the step's last three quarters of
      production, over the images sent then (1.0: the table keeps pace with the arrivals), forgiving
      `edge_s` seconds of arrivals (visibility comes in steps: the sink commits about once a second);
    - `end_lag_s`: the longest wait, after the last image was sent, until every image of the step was
      visible (a queue that grew during the step shows here);
    - `lag_s`: a step is cut short once more images are outstanding (sent, not yet visible) than
      `lag_s` seconds of arrivals; a cut step failed, and its backlog stays small enough to drain quickly.
    """

    keep_up: float = 0.9
    edge_s: float = 1.0
    end_lag_s: float = 10.0
    lag_s: float = 10.0

    def max_outstanding(self, rate: float) -> int:
        return max(20, math.ceil(rate * self.lag_s))


@dataclass(frozen=True)
class Step:
    """One open-loop step: images sent at `rate` per second; `sent_at[i]` when image i was handed to the
    producer and `seen_at[i]` when a look at the verdicts table first showed it, both in seconds from the
    step's start; `cut`: sending stopped early (too many outstanding); `cpu_s`: each service's CPU seconds
    over the step."""

    rate: float
    sent_at: list[float]
    seen_at: list[float]
    cut: bool = False
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return len(self.sent_at)

    @property
    def latencies_s(self) -> list[float]:
        """Produce → verdict-in-Iceberg of every image that became visible."""
        return [seen - sent for sent, seen in zip(self.sent_at, self.seen_at, strict=True)]

    def window(self) -> tuple[int, int]:
        """(images sent, verdicts visible) during the step's last three quarters of production."""
        if not self.sent_at:
            return 0, 0
        start, end = self.sent_at[-1] / 4, self.sent_at[-1]
        sent = sum(1 for t in self.sent_at if start <= t <= end)
        return sent, sum(1 for t in self.seen_at if start <= t <= end)

    @property
    def keep_up(self) -> float:
        """Verdicts visible over images sent, during the step's last three quarters of production."""
        sent, seen = self.window()
        return seen / sent if sent else 0.0

    def kept_pace(self, bounds: Bounds) -> bool:
        sent, seen = self.window()
        return seen + self.rate * bounds.edge_s >= bounds.keep_up * sent

    @property
    def end_lag_s(self) -> float:
        """From the last send until the last image of the step was visible."""
        if not self.sent_at:
            return 0.0
        return max(0.0, max(self.seen_at) - self.sent_at[-1])

    def sustained(self, bounds: Bounds) -> bool:
        return (
            self.sent > 0 and not self.cut and self.kept_pace(bounds) and self.end_lag_s <= bounds.end_lag_s
        )

    def cpu_ms_per_image(self) -> dict[str, float]:
        return {name: round(s * 1000 / self.sent, 1) for name, s in self.cpu_s.items()} if self.sent else {}

    def summary(self, bounds: Bounds) -> dict[str, object]:
        latencies = self.latencies_s
        return {
            "rate": self.rate,
            "sent": self.sent,
            "sustained": self.sustained(bounds),
            "cut": self.cut,
            "keep_up": round(self.keep_up, 3),
            "end_lag_s": round(self.end_lag_s, 2),
            "p50_ms": round(percentile(latencies, 50) * 1000),
            "p99_ms": round(percentile(latencies, 99) * 1000),
        }


@dataclass(frozen=True)
class Search:
    """Rates to try: `start`, times `factor` while steps hold (divided while they fail, down to `floor`),
    then bisection until the highest rate that held and the lowest that failed are within `resolution` of
    each other, or `max_steps` steps were run."""

    start: float = 4.0
    factor: float = 2.0
    floor: float = 0.5
    resolution: float = 0.15
    max_steps: int = 6


def bracket(tried: list[tuple[float, bool]]) -> tuple[float | None, float | None]:
    """(highest rate that held below the lowest that failed, lowest that failed); None where there is none.
    A rate that held above one that failed (noise) does not count."""
    failed = min((r for r, ok in tried if not ok), default=None)
    held = max((r for r, ok in tried if ok and (failed is None or r < failed)), default=None)
    return held, failed


def next_rate(tried: list[tuple[float, bool]], search: Search) -> float | None:
    """The next rate to try after `tried` (rate, sustained) in order, or None when the search is done."""
    if not tried:
        return search.start
    if len(tried) >= search.max_steps:
        return None
    held, failed = bracket(tried)
    if failed is None:
        return round(tried[-1][0] * search.factor, 2)
    if held is None:
        lower = round(failed / search.factor, 2)
        return lower if lower >= search.floor else None
    if failed / held - 1 <= search.resolution:
        return None
    return round((held + failed) / 2, 2)


def max_rate(tried: list[tuple[float, bool]]) -> float:
    """The highest sustained rate of a finished search (0.0 if none held)."""
    return bracket(tried)[0] or 0.0
