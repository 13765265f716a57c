"""Pure image validation: a real image by content (not extension), complete, within size and pixel limits.

The producer (`inspect_image`) and the detector (`decode_rgb`) run the same structural checks; for PNG, WebP
and BMP both then decode the same way, so they agree on what such an image is (a corrupt zlib or VP8 stream
has no structural tell). JPEG, the producer's hot path, is checked by structure only: that takes microseconds
where a decode takes milliseconds, so a JPEG whose Huffman tables or entropy-coded data are corrupt passes
`inspect_image` and is dead-lettered by the detector. A hostile input yields an InvalidInputError, never
another exception.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from roadwatch.errors import InvalidInputError
from roadwatch.images.sniff import png_chunks, sniff

# MPO (multi-picture JPEG, what many phone cameras write) is a JPEG whose first picture is the image.
ALLOWED_FORMATS = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}
# Pillow plugins that may parse untrusted bytes (the JPEG plugin also opens MPO); no other parser runs.
_PLUGINS = ("JPEG", "PNG", "WEBP", "BMP")
# Pillow's own limits on PNG text and ICC chunks, applied here before Pillow sees the data.
_MAX_INFLATED = PngImagePlugin.MAX_TEXT_CHUNK
_MAX_TEXT = PngImagePlugin.MAX_TEXT_MEMORY
_TEXT_CHUNKS = frozenset((b"tEXt", b"zTXt", b"iTXt", b"iCCP"))
_ROTATED = range(2, 9)  # EXIF orientations other than upright (1); anything else is ignored
_STRUCTURE_ONLY = frozenset(("JPEG", "MPO"))  # formats `inspect_image` does not decode (see above)


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


def _bad_data(exc: Exception) -> InvalidInputError:
    """The reason for whatever Pillow raised on bad data."""
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return InvalidInputError("too_many_pixels", f"decompression bomb: {exc}")
    if isinstance(exc, UnidentifiedImageError):
        return InvalidInputError("not_an_image", f"content is not a {', '.join(_PLUGINS)} image")
    if isinstance(exc, ValueError) and ("too large" in str(exc) or "text chunks" in str(exc)):
        return InvalidInputError("decompression_bomb", str(exc))
    if isinstance(exc, OSError | EOFError | SyntaxError | struct.error):
        return InvalidInputError("truncated", f"image data is corrupt or truncated ({exc})")
    return InvalidInputError("corrupt", f"image data is corrupt ({type(exc).__name__}: {exc})")


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    """Pillow's lazy open (headers only; for PNG every chunk before the pixel data)."""
    if not data:
        raise InvalidInputError("empty", "zero bytes")
    if len(data) > limits.max_bytes:
        raise InvalidInputError("too_large", f"{len(data)} bytes > limit {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=_PLUGINS)
    except MemoryError:
        raise
    except Exception as exc:  # untrusted bytes: whatever Pillow raises on them is a bad input
        raise _bad_data(exc) from exc
    if img.format not in ALLOWED_FORMATS:
        raise InvalidInputError(
            "unsupported_format", f"format {img.format} is not one of {sorted(ALLOWED_FORMATS)}"
        )
    _check_pixels(*img.size, limits)
    return img


def _check_pixels(width: int, height: int, limits: ImageLimits) -> None:
    if width * height > limits.max_pixels:
        raise InvalidInputError(
            "too_many_pixels", f"{width}x{height} = {width * height} pixels > limit {limits.max_pixels}"
        )


def _inflated_size(blob: bytes) -> int | None:
    """What a compressed PNG text/ICC payload inflates to, None past Pillow's limit (a broken stream
    inflates to nothing: Pillow skips it)."""
    inflater = zlib.decompressobj()
    try:
        size = len(inflater.decompress(blob, _MAX_INFLATED))
    except zlib.error:
        return 0
    return None if inflater.unconsumed_tail else size


def _png_text_size(ctype: bytes, body: bytes) -> int:
    """The text a text or ICC chunk adds (what Pillow keeps in memory); raises on a compressed payload over
    the limit."""
    _, _, rest = body.partition(b"\0")
    if ctype == b"tEXt":
        return len(rest)
    if ctype == b"iTXt":  # keyword NUL, compressed flag, method, language NUL, translated keyword NUL, text
        if len(rest) < 2 or rest[0] == 0 or rest[1] != 0:
            return len(rest)
        payload = rest[2:].split(b"\0", 2)[-1]
    else:  # zTXt and iCCP: keyword NUL, method, compressed payload
        payload = rest[1:]
    size = _inflated_size(payload)
    if size is None:
        raise InvalidInputError(
            "decompression_bomb", f"a {ctype.decode()} chunk inflates past {_MAX_INFLATED} bytes"
        )
    return 0 if ctype == b"iCCP" else size


def _png_complete(data: bytes) -> bool:
    """Whether an IEND chunk is reached; bombs in compressed chunks (anywhere) raise on the way."""
    text = 0
    for ctype, start, length in png_chunks(data):
        if ctype == b"IEND":
            return True
        if ctype in _TEXT_CHUNKS:
            text += _png_text_size(ctype, data[start : start + length])
        if text > _MAX_TEXT:
            raise InvalidInputError("decompression_bomb", f"text chunks hold over {_MAX_TEXT} bytes")
    return False


def _complete(fmt: str, data: bytes, scan: int | None) -> bool:
    """Structural completeness without decoding pixels: the end marker each format must carry. Bytes after
    it are allowed (decoders ignore them): JPEG's EOI after the first scan, PNG's IEND chunk."""
    if fmt in ("JPEG", "MPO"):
        return scan is not None and data.rfind(b"\xff\xd9", scan) >= 0
    if fmt == "PNG":
        return _png_complete(data)
    if fmt == "WEBP":
        return int.from_bytes(data[4:8], "little") + 8 <= len(data)
    return int.from_bytes(data[2:6], "little") <= len(data)  # BMP: declared file size


def _check(data: bytes, limits: ImageLimits) -> tuple[str, int, int]:
    """(format, width, height) after every check short of decoding pixels."""
    header = sniff(data) if len(data) <= limits.max_bytes else None
    if header is None or header.format == "PNG":  # PNG: Pillow parses the chunks before the pixel data
        img = _open(data, limits)
        fmt, (width, height), scan = img.format or "", img.size, None
    else:
        fmt, width, height, scan = header
        _check_pixels(width, height, limits)
    if not _complete(fmt, data, scan):
        raise InvalidInputError("truncated", f"{fmt} data ends before its end marker")
    return fmt, width, height


def inspect_image(data: bytes, limits: ImageLimits) -> ImageInfo:
    """Validate `data`: by its structure for JPEG, by decoding it as `decode_rgb` does for other formats.

    Raises:
        InvalidInputError: reason `empty`, `too_large`, `not_an_image`, `unsupported_format`,
            `too_many_pixels`, `decompression_bomb`, `truncated` or `corrupt`.
    """
    fmt, width, height = _check(data, limits)
    if fmt not in _STRUCTURE_ONLY:
        _pixels(_open(data, limits))
    return ImageInfo(ALLOWED_FORMATS[fmt], width, height, len(data))


def decode_rgb(data: bytes, limits: ImageLimits) -> np.ndarray:
    """Decode to an RGB uint8 array (H, W, 3), upright by the EXIF orientation, after the same checks as
    `inspect_image`.

    Raises:
        InvalidInputError: a reason of `inspect_image`'s; never another exception on bad data.
    """
    _check(data, limits)
    return _pixels(_open(data, limits))


def _pixels(img: Image.Image) -> np.ndarray:
    """The decode both `decode_rgb` and (for formats it decodes) `inspect_image` run, so they fail alike."""
    try:
        if img.getexif().get(ExifTags.Base.Orientation, 1) in _ROTATED:
            img = ImageOps.exif_transpose(img)
        return np.asarray(img.convert("RGB"))
    except MemoryError:
        raise
    except Exception as exc:  # untrusted bytes: whatever Pillow raises on them is a bad input
        raise _bad_data(exc) from exc
