"""Read JPEG and PNG structure without a decoder (the producer's hot path): format, dimensions, where the
JPEG scan starts, the PNG chunks. Nothing here decompresses or trusts a length it has not bounds-checked."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers without a length, as Pillow reads them (JPG, RSTn, SOI, EOI, JPGn); it rejects any below 0xC0.
_STANDALONE = {0xC8, *range(0xD0, 0xDA), *range(0xF0, 0xFE)}
_SOS = 0xDA
_SEGMENT = struct.Struct(">BBH").unpack_from  # 0xFF, marker, length
_DIMENSIONS = struct.Struct(">HH").unpack_from  # height, width
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Header(NamedTuple):
    """What a header says. `scan`: for JPEG the offset of the first start-of-scan marker, None when the
    data ends (or breaks) before it; always None for PNG."""

    format: str
    width: int
    height: int
    scan: int | None = None


def sniff(data: bytes) -> Header | None:
    """The header of a well-formed JPEG or PNG; None for anything else."""
    if data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return Header("PNG", width, height) if width and height else None
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    return None


def _jpeg(data: bytes) -> Header | None:
    """Walk the marker segments up to the first SOS the way Pillow does (junk between segments skipped);
    the frame header (SOF) must come before it."""
    pos, last, size = 2, len(data) - 4, None
    while pos <= last:
        ff, marker, length = _SEGMENT(data, pos)
        if ff != 0xFF:  # junk between segments
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
        elif marker == _SOS:
            return Header("JPEG", size[0], size[1], pos) if size else None
        elif marker == 0xFF:  # fill byte
            pos += 1
        elif marker in _STANDALONE or marker == 0x00:
            pos += 2
        elif marker < 0xC0:
            return None
        elif length < 2:
            break
        else:
            if marker in _SOF and size is None:
                if length < 8 or pos + 9 > len(data):  # a frame header holds precision, height, width
                    return None
                height, width = _DIMENSIONS(data, pos + 5)
                if not (width and height):
                    return None
                size = (width, height)
            pos += 2 + length
    return Header("JPEG", size[0], size[1]) if size else None


def png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset of its data, length) of each complete chunk after the signature, up to and including
    IEND; stops early at the first chunk that the data cuts short. Bytes after IEND are never looked at."""
    pos, end = len(PNG_SIGNATURE), len(data)
    while pos + 12 <= end:
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > end:
            return
        yield ctype, pos + 8, length
        if ctype == b"IEND":
            return
        pos += 12 + length
