"""The image behind an event, for a page: fetched as the services fetch it (their allow-lists and limits,
the event's own sha256 checked), decoded upright, and re-encoded as a bounded JPEG. Only the URI the
detector recorded for that event is ever read; an image sent inline was never stored and has none."""

from __future__ import annotations

import io

from PIL import Image

from roadwatch.errors import InvalidInputError
from roadwatch.images.fetch import FetchPolicy
from roadwatch.images.inspect import ImageLimits, decode_rgb
from roadwatch.images.load import load_bytes


def rendition(
    uri: str | None, sha256: str, policy: FetchPolicy, limits: ImageLimits, max_side: int | None
) -> bytes:
    """JPEG bytes of the image at `uri`, scaled down to fit `max_side` pixels (None: full size).

    Raises:
        InvalidInputError: `no_image` (sent inline: not kept), or any reason of fetching or decoding.
    """
    if uri is None:
        raise InvalidInputError("no_image", "the image was sent inline and is not kept")
    pixels = decode_rgb(load_bytes(uri, None, sha256, policy), limits)
    img = Image.fromarray(pixels)
    if max_side is not None:
        img.thumbnail((max_side, max_side))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()
