"""The figures of `roadwatch bench sink --peer kafka-connect` (pure): one side's round, medians over rounds,
freshness percentiles, and the JSON object (roadwatch's figures plain, the peer's with a `peer_` prefix)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from apps.bench.common import percentile


@dataclass(frozen=True)
class SideRound:
    """One side in one round. `wall_s` and `cpu_s` span from the moment its consumer group held every
    partition until the table showed every row (steady mode: until the last produced row was visible)."""

    rows: int  # rows in the table at the end
    wall_s: float
    cpu_s: float  # its processes' user + system CPU over that span
    peak_rss_mb: float  # its processes' peaks over their whole lives, summed
    files: int  # data files in the current snapshot at the end
    snapshots: int  # snapshots retained at the end
    freshness_s: tuple[float, ...] = field(default=(), repr=False)  # steady: per visible row
    not_visible: int = 0  # steady: produced rows never seen in the table

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu_s * 100_000 / self.rows if self.rows else 0.0

    def line(self) -> str:
        """One progress line."""
        text = (
            f"{self.rows} rows in {self.wall_s:.1f} s = {self.rows_per_s / 1000:.1f} k rows/s, "
            f"{self.cpu_s:.1f} CPU s ({self.cpu_per_100k:.2f} per 100k), "
            f"peak RSS {self.peak_rss_mb:.0f} MiB, "
            f"{self.files} files, {self.snapshots} snapshots"
        )
        if self.freshness_s:
            text += (
                f", freshness p50 {percentile(list(self.freshness_s), 50):.2f} s "
                f"p99 {percentile(list(self.freshness_s), 99):.2f} s"
            )
        if self.not_visible:
            text += f", {self.not_visible} rows never visible"
        return text


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def side_figures(rounds: list[SideRound], steady: bool) -> dict[str, Any]:
    """Medians over `rounds` of one side's figures (unprefixed names)."""
    rows = _median([r.rows for r in rounds])
    per_100k = 100_000 / rows if rows else 0.0
    out: dict[str, Any] = {
        "rows_per_s": round(_median([r.rows_per_s for r in rounds])),
        "cpu_s_per_100k": round(_median([r.cpu_per_100k for r in rounds]), 3),
        "peak_rss_mb": round(_median([r.peak_rss_mb for r in rounds])),
        "files_per_100k": round(_median([r.files for r in rounds]) * per_100k, 2),
    }
    if steady:
        out["snapshots"] = round(_median([r.snapshots for r in rounds]))
        out["freshness_p50_s"] = round(_median([percentile(list(r.freshness_s), 50) for r in rounds]), 3)
        out["freshness_p99_s"] = round(_median([percentile(list(r.freshness_s), 99) for r in rounds]), 3)
        out["not_visible"] = sum(r.not_visible for r in rounds)
    else:
        out["snapshots_per_100k"] = round(_median([r.snapshots for r in rounds]) * per_100k, 2)
    return out


def report(mode: str, ours: list[SideRound], peer: list[SideRound], header: dict[str, Any]) -> dict[str, Any]:
    """The bench's JSON object: `header`, roadwatch's figures, the peer's (`peer_`), `ratio` (ours / peer,
    rows/s) and `cpu_ratio` (peer / ours, CPU seconds per 100k rows)."""
    steady = mode == "steady"
    mine, theirs = side_figures(ours, steady), side_figures(peer, steady)
    ratio = mine["rows_per_s"] / theirs["rows_per_s"] if theirs["rows_per_s"] else 0.0
    cpu_ratio = theirs["cpu_s_per_100k"] / mine["cpu_s_per_100k"] if mine["cpu_s_per_100k"] else 0.0
    return {
        **header,
        "mode": mode,
        "rounds": min(len(ours), len(peer)),
        **mine,
        **{f"peer_{k}": v for k, v in theirs.items()},
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
    }
