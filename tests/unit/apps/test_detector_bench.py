"""`bench detector`'s streaming side: the round's records are built before the clock, and the clock starts
once they are all acknowledged, just before the one commit that makes them consumable."""

import hashlib
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from apps.bench.detector import events, release
from roadwatch.producer.settings import ProducerSettings
from schemas import ImageEvent


def _jpeg(path: Path, red: int) -> Path:
    arr = np.zeros((24, 32, 3), np.uint8)
    arr[..., 0] = red
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def test_events_are_what_produce_sends_one_per_file_each_with_its_own_id(tmp_path: Path) -> None:
    a, b = _jpeg(tmp_path / "a.jpg", 10), _jpeg(tmp_path / "b.jpg", 200)
    records = events([a, b, a], "bench", ProducerSettings(allowed_file_roots=[tmp_path]))
    parsed = [ImageEvent.model_validate_json(v) for _, v in records]
    assert [k for k, _ in records] == [b"bench"] * 3
    assert [e.image_uri for e in parsed] == [a.as_uri(), b.as_uri(), a.as_uri()]
    assert [e.image_sha256 for e in parsed] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, a)]
    assert all(e.image_b64 is None and (e.width, e.height) == (32, 24) for e in parsed)
    assert len({e.event_id for e in parsed}) == 3


class RecordingProducer:
    """Records the transactional calls in order, with the time of the commit."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.committed_at = 0.0

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def produce(self, topic: str, key: bytes | None = None, value: bytes = b"", **_: Any) -> None:
        self.calls.append("produce")
        self.sent.append((topic, key, value))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        self.calls.append("flush")
        return 0

    def commit_transaction(self, timeout: float = 0) -> None:
        self.committed_at = time.perf_counter()
        self.calls.append("commit")


def test_release_starts_the_clock_after_every_record_is_acknowledged_and_before_the_commit() -> None:
    producer = RecordingProducer()
    before = time.perf_counter()
    start = release(producer, "bench.images", [(b"k", b"1"), (b"k", b"2")])  # type: ignore[arg-type]
    assert producer.calls == ["begin", "produce", "produce", "flush", "commit"]
    assert producer.sent == [("bench.images", b"k", b"1"), ("bench.images", b"k", b"2")]
    assert before <= start <= producer.committed_at
