"""Forgiving parsing of a VLM's answer into `{"roadwork": bool, "confidence": 0..1, "evidence": [...]}`.

Never raises: code fences, prose around the object, single quotes, trailing commas and truncation (an
unclosed string, list or object) are repaired; anything that still has no usable `roadwork` becomes an
explicit `Unparseable` — never a silent "clear".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "roadwork": {"type": "boolean"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "evidence": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
    },
    "required": ["roadwork", "confidence", "evidence"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Answer:
    roadwork: bool
    confidence: float
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Unparseable:
    reason: str
    raw: str


_FENCE = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)
_TRUE = {"true", "yes", "y", "1", "roadwork"}
_FALSE = {"false", "no", "n", "0", "clear", "none"}


def _close(fragment: str) -> str:
    """Close whatever a truncated JSON fragment left open (strings, arrays, objects)."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in fragment:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    repaired = fragment + ('"' if in_string else "")
    repaired = re.sub(r"[,:]\s*$", "", repaired.rstrip())
    return repaired + "".join(reversed(stack))


def _candidates(text: str) -> list[str]:
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start < 0:
        return []
    fragment = body[start:]
    end = fragment.rfind("}")
    out = [fragment[: end + 1]] if end >= 0 else []
    out.append(_close(fragment))
    return out


def _load(candidate: str) -> Any:
    for attempt in (candidate, re.sub(r",\s*([}\]])", r"\1", candidate)):
        for variant in (attempt, attempt.replace("'", '"')):
            try:
                return json.loads(variant)
            except ValueError:
                continue
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def _confidence(value: Any) -> float | None:
    if isinstance(value, str):
        value = value.strip().rstrip("%")
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value) / 100 if 1 < value <= 100 else float(value)
    return number if 0.0 <= number <= 1.0 else None


def parse_answer(text: str | None) -> Answer | Unparseable:
    """An `Answer`, or `Unparseable` with the reason; never raises."""
    if not text or not text.strip():
        return Unparseable("empty", text or "")
    for candidate in _candidates(text):
        data = _load(candidate)
        if not isinstance(data, dict):
            continue
        roadwork = _bool(data.get("roadwork"))
        if roadwork is None:
            return Unparseable("no_roadwork_field", text[:500])
        confidence = _confidence(data.get("confidence"))
        if confidence is None:
            return Unparseable("bad_confidence", text[:500])
        evidence = data.get("evidence", [])
        items = (
            tuple(str(e)[:200] for e in evidence[:10])
            if isinstance(evidence, list)
            else (str(evidence)[:200],)
        )
        return Answer(roadwork, confidence, items)
    return Unparseable("no_json_object", text[:500])
