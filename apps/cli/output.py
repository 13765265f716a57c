"""Printing a command's figures: one JSON object on the last line with `--json`, else aligned lines."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(figures, default=str) + "\n")
        return
    width = max((len(k) for k in figures), default=0) + 2
    for key, value in figures.items():
        sys.stdout.write(f"{key:{width}} {value}\n")
