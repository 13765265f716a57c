"""Expand what the user named (files, folders, globs, URLs) into a list of image URIs, in a stable order."""

from __future__ import annotations

import glob
from pathlib import Path
from urllib.parse import urlparse

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
URI_SCHEMES = {"http", "https", "s3", "file"}


def expand(items: list[str]) -> list[str]:
    """URIs for every input. A folder contributes its image files (recursively, by suffix); a glob its
    matches; a URL itself; a plain path itself, even if missing or not an image (validation reports it)."""
    uris: list[str] = []
    for item in items:
        if urlparse(item).scheme in URI_SCHEMES:
            uris.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            uris.extend(p.absolute().as_uri() for p in files)
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))  # noqa: PTH207 - absolute globs and '..' allowed
            uris.extend(Path(p).absolute().as_uri() for p in matches)
        else:
            uris.append(path.absolute().as_uri())
    return uris
