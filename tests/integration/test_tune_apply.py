"""`tune --apply` on the real broker: the chosen bands published to a thresholds topic with their provenance,
and a detector's thresholds reader, started afterwards, giving a source it never saw the applied default."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.cli import main
from roadwatch.settings import KafkaSettings
from roadwatch.vision.scoring import DEFAULT_BAND, Band, BandBook
from services.detector.thresholds import ThresholdsReader
from tests.labelled_tables import labelled_verdict, new_label, open_tables, opinion, write_events

pytestmark = pytest.mark.integration


def test_applied_bands_reach_a_detector_started_later(
    kafka: KafkaSettings,
    topic_factory: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tables = open_tables(tmp_path / "warehouse")
    verdicts = [
        labelled_verdict(0, "cam-0", 0.9, [], True),
        labelled_verdict(1, "cam-0", 0.05, [], False),
        labelled_verdict(2, "cam-1", 0.3, [opinion("fast", True, 0.9)], True),
        labelled_verdict(3, "cam-1", 0.1, [], False),
    ]
    shas = [f"{i:064x}" for i in range(len(verdicts))]
    truth = [True, False, True, False]
    write_events(
        tables, verdicts, shas, [new_label(v, s, t, 1) for v, s, t in zip(verdicts, shas, truth, strict=True)]
    )
    topic = topic_factory("thresholds")
    monkeypatch.setenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("ROADWATCH_QUERY_THRESHOLDS_TOPIC", topic)

    args = ["tune", "--max-escalation", "0.5", "--bootstrap", "20", "--apply", "--drift", "0", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    chosen = Band(out["global"]["low"], out["global"]["high"])
    assert out["applied"]["topic"] == topic and out["applied"]["bands"] == {
        "_default": [chosen.low, chosen.high]
    }

    book = BandBook(DEFAULT_BAND)
    reader = ThresholdsReader.start(kafka, topic, book)
    try:
        assert book.for_source("cam-never-seen") == chosen
    finally:
        reader.close()
