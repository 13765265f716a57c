"""Hostile image bytes: the producer (`inspect_image`) and the detector (`decode_rgb`) agree on each, and
neither raises anything but InvalidInputError. Every input is built here."""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from roadwatch.errors import InvalidInputError
from roadwatch.images.inspect import ImageLimits, decode_rgb, inspect_image

LIMITS = ImageLimits()


def jpeg(w: int = 64, h: int = 48, **save: object) -> bytes:
    buf = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)
    Image.fromarray(pixels).save(buf, "JPEG", **save)
    return buf.getvalue()


def png(w: int = 16, h: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def webp(w: int = 16, h: int = 16) -> bytes:
    buf = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)
    Image.fromarray(pixels).save(buf, "WEBP", quality=80)
    return buf.getvalue()


def bmp(w: int = 16, h: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)).save(buf, "BMP")
    return buf.getvalue()


def mpo(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    frame = Image.fromarray(np.full((h, w, 3), 90, np.uint8))
    frame.save(buf, "MPO", save_all=True, append_images=[frame])
    return buf.getvalue()


def chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


@functools.cache
def inflates_to_50mb() -> bytes:
    return zlib.compress(bytes(50 * 1024 * 1024), 9)


def ztxt_bomb(*, after_pixels: bool = False) -> bytes:
    """A 16x16 PNG with a zTXt chunk that inflates to 50 MB, before (or after) the pixel data."""
    data, bomb = png(), chunk(b"zTXt", b"Comment\0\0" + inflates_to_50mb())
    at = data.rfind(b"IEND") - 4 if after_pixels else 8 + 25  # after IHDR (signature + 25-byte chunk)
    return data[:at] + bomb + data[at:]


def huge_png_header() -> bytes:
    """A PNG that claims 100000 x 100000 pixels and holds almost none."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 300_001)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_with_corrupt_idat() -> bytes:
    """A 16x16 PNG whose IDAT zlib header is broken (0x78 -> 0x79, no longer a multiple of 31), its CRC
    recomputed: every chunk is well-formed, only inflating the pixel data fails."""
    data = png()
    at = data.find(b"IDAT") - 4
    (length,) = struct.unpack_from(">I", data, at)
    body = bytearray(data[at + 8 : at + 8 + length])
    assert body[0] == 0x78
    body[0] = 0x79
    return data[:at] + chunk(b"IDAT", bytes(body)) + data[at + 12 + length :]


def webp_with_corrupt_frame() -> bytes:
    """A WebP whose RIFF and VP8 headers are intact and whose first partition is garbled."""
    data = bytearray(webp())
    data[30] ^= 0xFF
    return bytes(data)


def bmp_cut_short() -> bytes:
    """A BMP missing its last pixel rows, its declared file size rewritten to match."""
    data = bmp()[:-16]
    return data[:2] + struct.pack("<I", len(data)) + data[6:]


def with_comment(data: bytes, text: bytes) -> bytes:
    """A COM segment right after SOI (an end marker in a header must not count as the image's)."""
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]


def outcome(check: Callable[[bytes, ImageLimits], object], data: bytes) -> str:
    """'ok', or the reason of the InvalidInputError; any other exception fails the test."""
    try:
        check(data, LIMITS)
    except InvalidInputError as exc:
        return exc.reason
    return "ok"


TABLE = {
    "jpeg": (jpeg(), "ok"),
    "png": (png(), "ok"),
    "mpo": (mpo(), "ok"),
    "jpeg+junk": (jpeg() + b"\x00junk after the end marker" * 10, "ok"),
    "png+junk": (png() + b"junk after IEND" * 10, "ok"),
    "jpeg-truncated": (jpeg()[: len(jpeg()) // 2], "truncated"),
    "jpeg-without-eoi": (jpeg()[:-2], "truncated"),
    "jpeg-truncated-eoi-in-header": (with_comment(jpeg(), b"\xff\xd9")[: len(jpeg()) // 2], "truncated"),
    "png-truncated": (png()[: len(png()) // 2], "truncated"),
    "png-without-iend": (png()[:-12], "truncated"),
    "png-corrupt-idat": (png_with_corrupt_idat(), "truncated"),
    "webp-corrupt-frame": (webp_with_corrupt_frame(), "truncated"),
    "bmp-cut-short": (bmp_cut_short(), "truncated"),
    "ztxt-bomb": (ztxt_bomb(), "decompression_bomb"),
    "ztxt-bomb-after-pixels": (ztxt_bomb(after_pixels=True), "decompression_bomb"),
    "not-an-image": (b"this is a text file named .jpg", "not_an_image"),
    "jpeg-sof-too-short": (bytes.fromhex("FFD8 FFC0 0002 0000 FFDA FFD9"), "not_an_image"),  # no size in it
    "too-many-pixels": (huge_png_header(), "too_many_pixels"),
}


@pytest.mark.parametrize("name", list(TABLE))
def test_producer_and_detector_agree(name: str) -> None:
    data, expected = TABLE[name]
    assert (outcome(inspect_image, data), outcome(decode_rgb, data)) == (expected, expected)


def test_a_png_whose_pixel_data_does_not_inflate_is_refused_by_both() -> None:
    """Its structure is sound (signature, IHDR, IDAT, IEND, every CRC), so only a decode tells: the producer
    must decode PNG too, or it accepts an image the detector can only dead-letter."""
    data = png_with_corrupt_idat()
    with pytest.raises(zlib.error):
        zlib.decompress(data[data.find(b"IDAT") + 4 :])
    for check in (inspect_image, decode_rgb):
        with pytest.raises(InvalidInputError) as err:
            check(data, LIMITS)
        assert err.value.reason == "truncated"
        assert "broken data stream" in str(err.value)


def test_ztxt_bomb_is_a_decompression_bomb_for_both() -> None:
    for data in (ztxt_bomb(), ztxt_bomb(after_pixels=True)):
        for check in (inspect_image, decode_rgb):
            with pytest.raises(InvalidInputError) as err:
                check(data, LIMITS)
            assert err.value.reason == "decompression_bomb"


def test_many_small_text_chunks_over_pillows_total_are_refused_by_both() -> None:
    one_mb = chunk(b"zTXt", b"k\0\0" + zlib.compress(bytes(1024 * 1024 - 1)))
    data = png()
    data = data[:33] + one_mb * 65 + data[33:]
    assert outcome(inspect_image, data) == outcome(decode_rgb, data) == "decompression_bomb"


def test_mpo_is_a_jpeg_for_both() -> None:
    data = mpo(64, 48)
    assert inspect_image(data, LIMITS).content_type == "image/jpeg"
    assert decode_rgb(data, LIMITS).shape == (48, 64, 3)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: the stored 64x48 picture is shown 48 wide, 64 high
    assert decode_rgb(jpeg(64, 48, exif=exif.tobytes()), LIMITS).shape == (64, 48, 3)
    assert decode_rgb(jpeg(64, 48), LIMITS).shape == (48, 64, 3)


def test_any_pillow_exception_on_decode_is_an_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: Image.Image, *args: object, **kwargs: object) -> Image.Image:
        raise IndexError("list index out of range")

    monkeypatch.setattr(Image.Image, "convert", explode)
    with pytest.raises(InvalidInputError) as err:
        decode_rgb(jpeg(), LIMITS)
    assert err.value.reason == "corrupt"


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the EXIF it skips
@pytest.mark.parametrize("original", [jpeg(32, 32), png(32, 32), mpo(32, 32)], ids=["jpeg", "png", "mpo"])
def test_mutated_images_never_raise_anything_else(original: bytes) -> None:
    rng = random.Random(1)
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        for check in (inspect_image, decode_rgb):
            outcome(check, bytes(data))  # InvalidInputError or a result, nothing else
