"""Write the JSON Schema files under `schemas/json/` from the typed models (the test checks they agree)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.records import RECORD_TYPES

JSON_DIR = Path(__file__).parent / "json"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one record type, as committed."""
    return RECORD_TYPES[name].model_json_schema(mode="serialization")


def write_all(out: Path = JSON_DIR) -> list[Path]:
    """Regenerate every schema file; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in RECORD_TYPES:
        path = out / f"{name}.v1.schema.json"
        path.write_text(json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    write_all()
