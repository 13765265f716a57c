import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roadwatch.errors import InvalidInputError
from roadwatch.images.fetch import FetchPolicy, check_allowed, fetch
from roadwatch.images.inspect import ImageLimits, decode_rgb, inspect_image
from roadwatch.images.sniff import sniff


def jpeg(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def png(w: int = 20, h: int = 10) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_sniff_reads_dimensions_from_headers() -> None:
    assert sniff(jpeg(64, 48))[:3] == ("JPEG", 64, 48)  # type: ignore[index]
    assert sniff(png(20, 10)) == ("PNG", 20, 10, None)
    assert sniff(b"hello world") is None


def test_valid_images_are_described() -> None:
    info = inspect_image(jpeg(), ImageLimits())
    assert (info.content_type, info.width, info.height) == ("image/jpeg", 64, 48)
    assert inspect_image(png(), ImageLimits()).content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is a text file named .jpg", "not_an_image"),
        (b"", "empty"),
        (jpeg()[:-200], "truncated"),
        (png()[:-10], "truncated"),
    ],
    ids=["text", "empty", "truncated-jpeg", "truncated-png"],
)
def test_bad_content_is_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        inspect_image(data, ImageLimits())
    assert err.value.reason == reason


def test_pixel_and_byte_limits() -> None:
    with pytest.raises(InvalidInputError, match="too_many_pixels"):
        inspect_image(jpeg(200, 200), ImageLimits(max_pixels=10_000))
    with pytest.raises(InvalidInputError, match="too_large"):
        inspect_image(jpeg(), ImageLimits(max_bytes=10))
    with pytest.raises(InvalidInputError, match="too_many_pixels"):
        decode_rgb(jpeg(200, 200), ImageLimits(max_pixels=10_000))


def test_decode_rejects_truncated_data() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8)).save(buf, "JPEG")
    data = buf.getvalue()
    with pytest.raises(InvalidInputError, match="truncated"):
        decode_rgb(data[: len(data) // 2], ImageLimits())
    assert decode_rgb(data, ImageLimits()).shape == (256, 256, 3)


def test_allow_list() -> None:
    policy = FetchPolicy(http_hosts=frozenset({"cams.example"}), s3_buckets=frozenset({"frames"}))
    check_allowed("https://cams.example/a.jpg", policy)
    check_allowed("s3://frames/a.jpg", policy)
    for uri in ("https://evil.example/a.jpg", "s3://other/a.jpg", "ftp://cams.example/a.jpg", "gopher://x"):
        with pytest.raises(InvalidInputError, match="uri_not_allowed"):
            check_allowed(uri, policy)


def test_file_roots_confine_local_reads(tmp_path: Path) -> None:
    inside = tmp_path / "in" / "a.jpg"
    inside.parent.mkdir()
    inside.write_bytes(jpeg())
    policy = FetchPolicy(file_roots=(tmp_path / "in",))
    assert fetch(inside.as_uri(), policy).data == inside.read_bytes()
    with pytest.raises(InvalidInputError, match="uri_not_allowed"):
        fetch((tmp_path / "in" / ".." / "secret").as_uri(), policy)


def test_missing_file_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unreachable"):
        fetch((tmp_path / "missing.jpg").as_uri(), FetchPolicy(file_roots=(tmp_path,)))
