"""Load the pixels behind an event's image reference: fetch under the allow-list, verify, decode."""

from __future__ import annotations

import base64
import binascii
import hashlib

import numpy as np

from roadwatch.errors import InvalidInputError
from roadwatch.images.fetch import FetchPolicy, fetch
from roadwatch.images.inspect import ImageLimits, decode_rgb


def load_bytes(uri: str | None, b64: str | None, sha256: str, policy: FetchPolicy) -> bytes:
    """The image bytes, inline or fetched, checked against `sha256`.

    Raises:
        InvalidInputError: `no_image`, `undecodable` (bad base64), `hash_mismatch`, or a fetch reason.
    """
    if b64 is not None:
        try:
            data = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise InvalidInputError("undecodable", f"inline image is not valid base64: {exc}") from exc
    elif uri is not None:
        data = fetch(uri, policy).data
    else:
        raise InvalidInputError("no_image", "event has neither image_uri nor image_b64")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InvalidInputError("hash_mismatch", "image bytes do not match image_sha256")
    return data


def load_rgb(
    uri: str | None, b64: str | None, sha256: str, policy: FetchPolicy, limits: ImageLimits
) -> np.ndarray:
    """RGB uint8 pixels (H, W, 3) of a referenced or inline image; InvalidInputError on anything unusable."""
    return decode_rgb(load_bytes(uri, b64, sha256, policy), limits)
