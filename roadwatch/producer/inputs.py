"""Expand what the user named (files, folders, globs, URLs) into a list of image URIs, in a stable order."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
URI_SCHEMES = {"http", "https", "s3", "file"}


def file_uri(path: str | Path) -> str:
    """`file://` URI of a local path, made absolute (percent-encoded like `Path.as_uri`)."""
    return "file://" + quote(os.path.abspath(path))  # noqa: PTH100 - per-image hot path; pathlib costs more


def expand(items: list[str]) -> list[str]:
    """URIs for every input. A folder contributes its image files (recursively, by suffix); a glob its
    matches; a URL itself; a plain path itself, even if missing or not an image (validation reports it)."""
    uris: list[str] = []
    for item in items:
        if urlparse(item).scheme in URI_SCHEMES:
            uris.append(item)
        elif os.path.isdir(item):  # noqa: PTH112 - per-input hot path
            found = (p for p in Path(item).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            uris.extend(file_uri(p) for p in sorted(found))
        elif glob.has_magic(item):
            uris.extend(file_uri(p) for p in sorted(glob.glob(item, recursive=True)))  # noqa: PTH207
        else:
            uris.append(file_uri(item))
    return uris


def local_paths(items: list[str]) -> list[Path]:
    """The local files among the expanded inputs (file:// URIs decoded back to paths)."""
    return [Path(unquote(urlparse(u).path)) for u in expand(items) if urlparse(u).scheme == "file"]
