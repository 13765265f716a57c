"""`roadwatch report`: PNG charts of the named questions and one HTML page that shows them."""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from roadwatch.analytics.queries import QUERIES
from roadwatch.analytics.tables import Tables


def _bar(path: Path, title: str, labels: list[str], values: list[float], ylabel: str) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(labels, values, color="#d97706")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    for i, v in enumerate(values):
        ax.annotate(f"{v:g}", (i, v), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(
    out: Path, tables: Tables | None = None, cost_per_call: dict[str, float] | None = None
) -> Path:
    """Write the charts and `index.html` under `out`; returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    con = (tables or Tables.open()).duckdb()
    funnel = QUERIES["funnel"](con)[0]
    tiers = QUERIES["tiers"](con, cost_per_call or {})
    confidence = QUERIES["confidence"](con)
    charts = [
        _bar(
            out / "funnel.png",
            "Funnel",
            ["images", "escalated", "verdicts", "degraded", "dead letters"],
            [
                funnel["images"],
                funnel["escalated"],
                funnel["verdicts"],
                funnel["degraded"],
                funnel["dead_letters"],
            ],
            "records",
        ),
        _bar(
            out / "decided_by.png",
            "Decided by",
            list(funnel["decided_by"]),
            list(funnel["decided_by"].values()),
            "verdicts",
        ),
        _bar(
            out / "tier_latency.png",
            "Tier latency p50 (ms)",
            [f"{t['tier']}/{t['backend']}" for t in tiers],
            [t["p50_ms"] or 0 for t in tiers],
            "ms",
        ),
    ]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for source in sorted({r["source_id"] for r in confidence}):
        pts = [r for r in confidence if r["source_id"] == source]
        ax.plot([r["hour"] for r in pts], [r["mean_score"] for r in pts], marker="o", label=source)
    ax.set_title("Mean detector score per source and hour")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out / "confidence.png", dpi=110)
    plt.close(fig)
    charts.append(out / "confidence.png")
    body = "".join(f'<figure><img src="{c.name}" alt="{c.stem}"></figure>' for c in charts)
    summary = html.escape(json.dumps(funnel, default=str))
    page = out / "index.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>roadwatch report</title></head>"
        f"<body><h1>roadwatch report</h1><pre>{summary}</pre>{body}</body></html>\n"
    )
    return page
