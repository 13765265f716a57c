"""The sink keeps shadow outputs apart: their own tables, one row per event and variant."""

import re

import pyarrow as pa

from services.sink.dedupe import RecentIds, identities
from services.sink.settings import SinkSettings


def test_shadow_topics_feed_their_own_tables() -> None:
    s = SinkSettings()
    assert s.table_for("detections.shadow.v1") == "shadow_detections"
    assert s.table_for("opinions.shadow.v1") == "shadow_opinions"
    assert s.table_for("detections.v1") == "detections"


def test_the_sink_waits_for_shadow_topics_by_pattern() -> None:
    subscriptions = SinkSettings().subscriptions()
    assert subscriptions[:4] == ["detections.v1", "verdicts.v1", "source-state.v1", "labels.v1"]
    patterns = [p for p in subscriptions if p.startswith("^")]
    for topic in ("detections.shadow.v1", "opinions.shadow.v1"):
        assert sum(bool(re.match(p, topic)) for p in patterns) == 1, topic
    for other in ("detections.v1", "detections-shadow-v1", "detections.shadow.v1x", "images.v1"):
        assert not any(re.match(p, other) for p in patterns[1:]), other


def test_a_shadow_row_is_one_per_event_and_variant() -> None:
    rows = pa.table({"event_id": ["e1", "e1", "e1", "e2"], "variant": ["coco", "other", "coco", "coco"]})
    ids = identities("shadow_detections", rows)
    assert ids == ["e1:coco", "e1:other", "e1:coco", "e2:coco"]
    assert RecentIds(60).new(ids, 0.0) == [True, True, False, True]
    assert identities("shadow_opinions", rows) == ids


def test_production_detections_keep_their_identity() -> None:
    rows = pa.table({"event_id": ["e1", "e2"], "variant": pa.array([None, None], pa.string())})
    assert identities("detections", rows) == ["e1", "e2"]
