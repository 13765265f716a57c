"""The engine interface every model runtime implements."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np

from schemas import Detection, ModelRef


class Engine(Protocol):
    """Detects objects in RGB uint8 images (H, W, 3); returns normalised boxes per image."""

    ref: ModelRef
    labels: dict[int, str]

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]: ...


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
