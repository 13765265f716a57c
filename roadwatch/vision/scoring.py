"""Roadwork scoring and the two-band decision (pure).

Each box is evidence of one kind (cone, barrier, drum, sign, arrow board, worker, work vehicle) with a
weight for how strongly that kind implies roadwork. The score combines kinds by noisy-OR over the strongest
box of each kind: `1 - prod_k (1 - max_box_in_k(weight_k * confidence))`. More cones do not add up; a cone
and a worker do. COCO labels are weak, indirect evidence (person → worker, truck → work vehicle).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas import Detection

# label (lower-case, spaces/dashes as underscores) → (evidence kind, weight)
DEFAULT_PROFILE: dict[str, tuple[str, float]] = {
    "traffic_cone": ("cone", 1.0),
    "cone": ("cone", 1.0),
    "barrier": ("barrier", 0.9),
    "barricade": ("barrier", 0.9),
    "jersey_barrier": ("barrier", 0.8),
    "drum": ("drum", 0.95),
    "tubular_marker": ("drum", 0.8),
    "roadwork_sign": ("sign", 0.9),
    "work_zone_sign": ("sign", 0.9),
    "arrow_board": ("arrow_board", 0.95),
    "worker": ("worker", 0.8),
    "work_vehicle": ("work_vehicle", 0.8),
    # COCO: indirect evidence only
    "person": ("worker", 0.3),
    "truck": ("work_vehicle", 0.25),
    "stop_sign": ("sign", 0.3),
}


def normalise_label(label: str) -> str:
    return label.strip().lower().replace(" ", "_").replace("-", "_")


def evidence(detections: Iterable[Detection], profile: Mapping[str, tuple[str, float]]) -> dict[str, float]:
    """Strongest weighted evidence per kind."""
    best: dict[str, float] = {}
    for d in detections:
        entry = profile.get(normalise_label(d.label))
        if entry is None:
            continue
        kind, weight = entry
        best[kind] = max(best.get(kind, 0.0), weight * d.confidence)
    return best


def roadwork_score(
    detections: Iterable[Detection], profile: Mapping[str, tuple[str, float]] = DEFAULT_PROFILE
) -> float:
    """Noisy-OR of the per-kind evidence, in [0, 1]."""
    clear = 1.0
    for value in evidence(detections, profile).values():
        clear *= 1.0 - min(1.0, value)
    return round(1.0 - clear, 6)


@dataclass(frozen=True)
class Band:
    """Escalation band: below `low` → clear, at or above `high` → roadwork, in between → escalate."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"band needs 0 <= low <= high <= 1, got low={self.low} high={self.high}")

    def decide(self, score: float) -> str:
        if score >= self.high:
            return "roadwork"
        if score < self.low:
            return "clear"
        return "escalate"

    @property
    def midpoint(self) -> float:
        return (self.low + self.high) / 2


# The band every source starts with (the Flink job moves a source's band from here), and the detection-only
# answer for an image no tier could take: roadwork at or above the default band's midpoint.
DEFAULT_BAND = Band(0.15, 0.45)
DETECTION_ONLY_MIDPOINT = DEFAULT_BAND.midpoint


@dataclass(frozen=True)
class Applied:
    """A band a person applied (`tune --apply`) and how far adaptive moves may take it (None: anywhere)."""

    band: Band
    drift: float | None = None

    def bound(self, band: Band) -> Band:
        """`band` moved into the bounds: low within `drift` of the applied low, high of the applied high."""
        if self.drift is None:
            return band
        d, a = self.drift, self.band
        low = min(max(band.low, a.low - d, 0.0), a.low + d)
        high = max(min(band.high, a.high + d, 1.0), a.high - d)
        return Band(round(low, 6), round(max(high, low), 6))


class BandBook:
    """Default band plus per-source overrides read from `thresholds.v1` (latest record per source wins).

    An applied band (the source's own, else the applied default) bounds the adaptive bands of its source
    whenever they arrive: the Flink job keeps its moves within the drift, and the book holds them to it too
    (the same answer whichever of the two records, on different partitions, is read first)."""

    def __init__(self, default: Band) -> None:
        self.configured = default
        self._adaptive: dict[str, Band] = {}
        self._applied: dict[str, Applied] = {}
        self._applied_default: Applied | None = None

    @property
    def default(self) -> Band:
        """The band of a source without one of its own."""
        return self._applied_default.band if self._applied_default else self.configured

    def update(self, source_id: str, band: Band | None) -> None:
        """Set a source's adaptive band; None (a tombstone) returns it to the default (applied or not)."""
        if band is None:
            self._adaptive.pop(source_id, None)
            self._applied.pop(source_id, None)
        else:
            self._adaptive[source_id] = band

    def apply(self, source_id: str, applied: Applied) -> None:
        """A source's applied band: its band from now on, and the bounds of the adaptive moves after it."""
        self._applied[source_id] = applied
        self._adaptive.pop(source_id, None)

    def apply_default(self, applied: Applied | None) -> None:
        """The band of every source without one of its own (None: back to the configured default)."""
        self._applied_default = applied

    def for_source(self, source_id: str) -> Band:
        applied = self._applied.get(source_id, self._applied_default)
        adaptive = self._adaptive.get(source_id)
        if adaptive is None:
            return applied.band if applied else self.configured
        return applied.bound(adaptive) if applied else adaptive

    def __len__(self) -> int:
        return len(self._adaptive.keys() | self._applied.keys())
