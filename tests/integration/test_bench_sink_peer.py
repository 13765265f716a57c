"""`roadwatch bench sink --peer kafka-connect` end to end on a tiny backlog (real broker, a REST catalog the
bench starts, a real Kafka Connect worker): both tables end with every row exactly once, and the report has
the keys the issue names."""

import pytest

from apps.bench import sink_peer
from apps.bench.sink_report import SideRound
from apps.bench.sink_sides import Side
from apps.bench.sink_watch import TableWatch
from roadwatch.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 3000


def test_both_sinks_land_every_row_once_and_the_report_compares_them(
    kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    landed: dict[str, list[str]] = {}
    original = sink_peer.backlog_round

    def recording(side: Side, kafka: KafkaSettings, topic: str, rows: int, watch: TableWatch) -> SideRound:
        result = original(side, kafka, topic, rows, watch)
        landed[side.name] = watch.all_event_ids()  # before the round's namespace is purged
        return result

    monkeypatch.setattr(sink_peer, "backlog_round", recording)
    out = sink_peer.run(kafka, sink_peer.Options(mode="backlog", rows=ROWS, rounds=1))

    assert set(landed) == {"roadwatch", "kafka-connect"}
    for ids in landed.values():
        assert len(ids) == ROWS and len(set(ids)) == ROWS  # every row, once
    assert set(landed["roadwatch"]) == set(landed["kafka-connect"])  # the same topic contents
    for key in ("rows_per_s", "peer_rows_per_s", "ratio", "cpu_ratio"):
        assert out[key] > 0, key
    for key in ("cpu_s_per_100k", "peak_rss_mb", "files_per_100k", "snapshots_per_100k"):
        assert out[key] > 0 and out[f"peer_{key}"] > 0, key
    assert (out["mode"], out["rows"], out["rounds"], out["peer"]) == ("backlog", ROWS, 1, "kafka-connect")
