"""Pure image validation: a real image by content (not extension), fully decodable, within pixel limits."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from roadwatch.errors import InvalidInputError
from roadwatch.images.sniff import sniff

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "BMP": "image/bmp"}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int
    size_bytes: int


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    if not data:
        raise InvalidInputError("empty", "zero bytes")
    if len(data) > limits.max_bytes:
        raise InvalidInputError("too_large", f"{len(data)} bytes > limit {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError("too_many_pixels", f"decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidInputError("not_an_image", f"content is not a recognised image ({exc})") from exc
    except OSError as exc:  # the header itself is cut short
        raise InvalidInputError("truncated", f"image header is truncated ({exc})") from exc
    if img.format not in ALLOWED_FORMATS:
        raise InvalidInputError(
            "unsupported_format", f"format {img.format} is not one of {sorted(ALLOWED_FORMATS)}"
        )
    w, h = img.size
    if w * h > limits.max_pixels:
        raise InvalidInputError("too_many_pixels", f"{w}x{h} = {w * h} pixels > limit {limits.max_pixels}")
    return img


def _complete(fmt: str, data: bytes) -> bool:
    """Structural completeness without decoding pixels: the trailer each format must end with."""
    if fmt == "JPEG":
        return data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if fmt == "PNG":
        return data[-12:-8] == b"\x00\x00\x00\x00" and data[-8:-4] == b"IEND"
    if fmt == "WEBP":
        return int.from_bytes(data[4:8], "little") + 8 <= len(data)
    return int.from_bytes(data[2:6], "little") <= len(data)  # BMP: declared file size


def inspect_image(data: bytes, limits: ImageLimits) -> ImageInfo:
    """Validate `data` by its header and trailer, without decoding pixels (the detector decodes fully).

    Raises:
        InvalidInputError: reason `empty`, `too_large`, `not_an_image`, `unsupported_format`,
            `too_many_pixels` or `truncated`.
    """
    sniffed = sniff(data) if len(data) <= limits.max_bytes else None
    if sniffed is None:
        img = _open(data, limits)
        sniffed = (img.format or "", *img.size)
    fmt, width, height = sniffed
    if width * height > limits.max_pixels:
        raise InvalidInputError(
            "too_many_pixels", f"{width}x{height} = {width * height} pixels > limit {limits.max_pixels}"
        )
    if not _complete(fmt, data):
        raise InvalidInputError("truncated", f"{fmt} data ends before its end marker")
    return ImageInfo(ALLOWED_FORMATS[fmt], width, height, len(data))


def decode_rgb(data: bytes, limits: ImageLimits) -> np.ndarray:
    """Decode to an RGB uint8 array (H, W, 3) after the same checks as `inspect_image`."""
    img = _open(data, limits)
    try:
        return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError) as exc:
        raise InvalidInputError("truncated", f"image data is corrupt or truncated ({exc})") from exc
