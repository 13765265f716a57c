"""Pure construction of an `ImageEvent` from image bytes (no Kafka, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime

from roadwatch.images.inspect import ImageLimits, inspect_image
from schemas import ImageEvent
from schemas.records import utcnow


def build_event(
    data: bytes,
    *,
    uri: str,
    source_id: str,
    captured_at: datetime,
    limits: ImageLimits,
    inline_max_bytes: int,
    attributes: dict[str, str] | None = None,
) -> ImageEvent:
    """Validate `data` and describe it. Raises InvalidInputError for anything that is not a usable image."""
    info = inspect_image(data, limits)
    inline = len(data) <= inline_max_bytes
    return ImageEvent(
        event_id=str(uuid.uuid4()),
        source_id=source_id,
        captured_at=captured_at,
        image_uri=None if inline else uri,
        image_b64=base64.b64encode(data).decode() if inline else None,
        image_sha256=hashlib.sha256(data).hexdigest(),
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        size_bytes=info.size_bytes,
        produced_at=utcnow(),
        attributes=attributes or {},
    )
