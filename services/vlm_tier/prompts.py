"""Versioned prompts. A verdict records the version its opinions were made with; change → new version."""

from __future__ import annotations

from typing import Any

from schemas import EscalationRequest

PROMPTS: dict[str, tuple[str, str]] = {
    "roadwork-v1": (
        "You inspect street-level and dashcam images for active roadwork: traffic cones, barriers, drums, "
        "roadwork signs, arrow boards, workers in high-visibility clothing, work vehicles. Answer only with "
        'JSON: {"roadwork": true|false, "confidence": 0..1, "evidence": ["short phrases"]}.',
        "A cheaper detector scored this image {score:.2f} for roadwork and saw: {seen}. "
        "{previous}Is there active roadwork in this image?",
    ),
}


def build_messages(version: str, req: EscalationRequest, image_url: str) -> list[dict[str, Any]]:
    """Chat messages for `req`: the system prompt, the detector's evidence and earlier tiers' opinions, the
    image (a data URL, or a URI the server can read)."""
    system, user = PROMPTS[version]
    seen = ", ".join(f"{d.label} {d.confidence:.2f}" for d in req.detections[:15]) or "nothing"
    previous = "".join(
        f"Tier {o.tier} said roadwork={o.roadwork} with confidence {o.confidence:.2f}. "
        for o in req.opinions
        if o.outcome == "answered"
    )
    return [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": user.format(score=req.detector_score, seen=seen, previous=previous)},
                {"type": "image_url", "image_url": {"url": image_url}},
            ],
        },
    ]
