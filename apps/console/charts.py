"""Small SVG charts drawn on the server (no script needed to read them): bars of counts, and counts over
time on a time axis that fits the data's own span (minutes for a demo run, days for a fleet)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

WIDTH, HEIGHT, PAD = 560, 180, 36
STEPS = (  # bucket widths to choose from, and how their ticks are labelled
    (timedelta(seconds=10), "%H:%M:%S"),
    (timedelta(minutes=1), "%H:%M"),
    (timedelta(minutes=10), "%H:%M"),
    (timedelta(hours=1), "%d %b %H:%M"),
    (timedelta(hours=6), "%d %b %H:%M"),
    (timedelta(days=1), "%d %b"),
)


def bars(counts: dict[str, int], unit: str) -> str:
    """Horizontal bars, one per key, labelled with the key and the count."""
    if not counts:
        return '<p class="empty">no data yet</p>'
    top, row = max(counts.values()) or 1, 22
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {row * len(counts) + 8}" role="img">']
    for i, (key, n) in enumerate(counts.items()):
        w = (WIDTH - 200) * n / top
        y = 4 + i * row
        out.append(
            f'<text x="0" y="{y + 14}">{escape(key)}</text>'
            f'<rect x="120" y="{y}" width="{w:.1f}" height="16"></rect>'
            f'<text x="{124 + w:.1f}" y="{y + 14}">{n} {escape(unit)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def bucket(times: Sequence[datetime], buckets: int = 40) -> tuple[timedelta, str]:
    """The smallest step that puts the span of `times` into at most `buckets` bars, and its tick format."""
    span = max(times) - min(times) if times else timedelta(0)
    for step, fmt in STEPS:
        if span / step <= buckets:
            return step, fmt
    return STEPS[-1]


def over_time(series: dict[str, Sequence[datetime]], unit: str) -> str:
    """Counts per time bucket as columns side by side, one colour per series, with a labelled time axis
    (UTC), the scale and a legend."""
    every = [t for ts in series.values() for t in ts]
    if not every:
        return '<p class="empty">no data yet</p>'
    step, fmt = bucket(every)
    first = min(every)
    width_s = step.total_seconds()
    start = datetime.fromtimestamp(first.timestamp() // width_s * width_s, first.tzinfo)
    n = int((max(every) - start) / step) + 1
    counts = {name: [0] * n for name in series}
    for name, ts in series.items():
        for t in ts:
            counts[name][int((t - start) / step)] += 1
    top = max(max(c) for c in counts.values()) or 1
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    slot = plot_w / n
    bar = max(1.0, slot * 0.8 / len(series))
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">']
    for k, (name, c) in enumerate(counts.items()):
        for i, v in enumerate(c):
            if v:
                h = plot_h * v / top
                x = PAD + slot * i + slot * 0.1 + bar * k
                y = HEIGHT - PAD - h
                out.append(
                    f'<rect class="s{k}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                    f"<title>{v} {escape(name)}</title></rect>"
                )
        out.append(f'<text class="s{k}" x="{WIDTH - PAD - 90}" y="{14 + 14 * k}">■ {escape(name)}</text>')
    out.append(f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"></line>')
    for i in sorted({0, n // 2, n - 1}):
        label = (start + step * i).strftime(fmt)
        x = PAD + slot * (i + 0.5)
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="2" y="{PAD - 10}">top: {top} {escape(unit)} per {_span(step)}</text>')
    out.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 4}" text-anchor="end">time (UTC)</text></svg>')
    return "".join(out)


def _span(step: timedelta) -> str:
    s = int(step.total_seconds())
    return (
        f"{s // 86400} d"
        if s >= 86400
        else f"{s // 3600} h"
        if s >= 3600
        else f"{s // 60} min"
        if s >= 60
        else f"{s} s"
    )


def sparkline(values: Sequence[float], low: float | None = None, high: float | None = None) -> str:
    """A tiny line of scores in [0, 1] (oldest left), with the band's edges as faint lines."""
    if not values:
        return ""
    w, h = 120, 24

    def y(v: float) -> float:
        return h - 2 - (h - 4) * v

    step = w / max(1, len(values) - 1)
    points = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    edges = "".join(
        f'<line class="edge" x1="0" x2="{w}" y1="{y(e):.1f}" y2="{y(e):.1f}"></line>'
        for e in (low, high)
        if e is not None
    )
    return (
        f'<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}">{edges}'
        f'<polyline points="{points}"></polyline></svg>'
    )


def pareto(points: Sequence[tuple[float, float, str]], front: Sequence[tuple[float, float, str]]) -> str:
    """Cost (x) against MCC (y): every candidate as a faint dot, the Pareto front joined by a line, each
    dot titled with its name (a band), with both axes' ranges labelled."""
    if not points:
        return '<p class="empty">no labelled events yet</p>'
    top_x = max(p[0] for p in points) or 1.0
    low_y = min(0.0, min(p[1] for p in points))
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(cost: float, mcc: float) -> tuple[float, float]:
        return PAD + plot_w * cost / top_x, HEIGHT - PAD - plot_h * (mcc - low_y) / ((1.0 - low_y) or 1.0)

    out = [f'<svg class="chart pareto" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">']
    for cost, mcc, name in points:
        x, y = xy(cost, mcc)
        out.append(
            f'<circle class="candidate" cx="{x:.1f}" cy="{y:.1f}" r="2">'
            f"<title>{escape(name)}: cost {cost:.3f}, MCC {mcc:.3f}</title></circle>"
        )
    line = " ".join("{:.1f},{:.1f}".format(*xy(c, m)) for c, m, _ in front)
    out.append(f'<polyline class="front" points="{line}"></polyline>')
    for cost, mcc, name in front:
        x, y = xy(cost, mcc)
        out.append(
            f'<circle class="front" cx="{x:.1f}" cy="{y:.1f}" r="4">'
            f"<title>{escape(name)}: cost {cost:.3f}, MCC {mcc:.3f}</title></circle>"
        )
    out.append(f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"></line>')
    out.append(f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"></line>')
    out.append(f'<text x="{PAD}" y="{HEIGHT - PAD + 16}">0</text>')
    out.append(
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end">{top_x:.2f}</text>'
        f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT - 4}" text-anchor="middle">tier cost per event</text>'
        f'<text x="2" y="{PAD - 4}">MCC 1</text>'
        f'<text x="2" y="{HEIGHT - PAD}">{low_y:.1f}</text></svg>'
    )
    return "".join(out)
