"""Labels end to end on the real broker and a real Iceberg catalog: `labels import` of TraCon images matched
to stored events by sha256, `label` by a person superseding one, the sink writing them to `labels`, and
`query quality` scoring the stored verdicts against them."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.cli import main
from roadwatch.analytics.queries import run_query
from roadwatch.settings import KafkaSettings
from tests.helpers import wait_for
from tests.labelled_tables import labelled_verdict, open_tables, write_events
from tests.services import running

pytestmark = pytest.mark.integration


def subset(tracon: Path, out: Path, n: int) -> list[tuple[Path, bool]]:
    """The first `n` positives and `n` negatives of TraCon's val split, copied into a YOLO layout."""
    (out / "images" / "val").mkdir(parents=True)
    (out / "labels" / "val").mkdir(parents=True)
    chosen: dict[bool, list[Path]] = {True: [], False: []}
    for label in sorted((tracon / "labels" / "val").iterdir()):
        roadwork = bool(label.read_text().strip())
        image = next((tracon / "images" / "val").glob(f"{label.stem}.*"))
        if len(chosen[roadwork]) < n:
            chosen[roadwork].append(image)
            shutil.copy(image, out / "images" / "val" / image.name)
            shutil.copy(label, out / "labels" / "val" / label.name)
    return [(p, truth) for truth in (True, False) for p in chosen[truth]]


def test_imported_and_human_labels_reach_the_table_and_score_the_verdicts(
    kafka: KafkaSettings,
    topic_factory: Callable[..., str],
    shared_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    images = subset(shared_dir / "datasets" / "tracon", tmp_path / "ds", 3)
    warehouse = tmp_path / "warehouse"
    tables = open_tables(warehouse)
    # stored events: every image once on cam-a, always answered "roadwork" (right for the positives only)
    verdicts = [labelled_verdict(i, "cam-a", 0.9, [], True) for i in range(len(images))]
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p, _ in images]
    write_events(tables, verdicts, shas, [])

    topics = {n: topic_factory(n) for n in ("labels", "verdicts", "detections", "source_state")}
    env = {
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_CATALOG_WAREHOUSE": str(warehouse),
        "ROADWATCH_LABELS_TOPIC": topics["labels"],
        "ROADWATCH_LABELS_LABELLED_BY": "ci",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sink_env = {
        **env,
        "ROADWATCH_SINK_LABELS_TOPIC": topics["labels"],
        "ROADWATCH_SINK_VERDICTS_TOPIC": topics["verdicts"],
        "ROADWATCH_SINK_DETECTIONS_TOPIC": topics["detections"],
        "ROADWATCH_SINK_SOURCE_STATE_TOPIC": topics["source_state"],
        "ROADWATCH_SINK_DLQ_PATTERN": rf"^t\.nodlq\.{uuid.uuid4().hex}$",
        "ROADWATCH_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}",
        "ROADWATCH_SINK_FRESHNESS_MS": "200",
        "ROADWATCH_SINK_METRICS_PORT": "0",
    }
    with running("services.sink", sink_env, tmp_path / "sink.log"):
        assert main(["labels", "import", "--dataset", str(tmp_path / "ds"), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (summary["images"], summary["roadwork"], summary["labels_sent"]) == (6, 3, 6)
        assert summary["unmatched_images"] == 0
        wait_for(lambda: tables.read("labels").num_rows == 6, 60, "six labels in Iceberg")
        quality = {(r["scope"], r["key"]): r for r in run_query("quality")}
        assert (quality[("all", "all")]["tp"], quality[("all", "all")]["fp"]) == (3, 3)

        negative = verdicts[3].event_id  # a negative: the verdict said roadwork, the dataset says clear
        assert main(["label", negative, "roadwork", "--by", "ana", "--json"]) == 0
        sent = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (sent["event_id"], sent["roadwork"], sent["origin"], sent["labelled_by"]) == (
            negative,
            True,
            "human",
            "ana",
        )
        wait_for(lambda: tables.read("labels").num_rows == 7, 60, "the human label in Iceberg")
    quality = {(r["scope"], r["key"]): r for r in run_query("quality")}
    assert (quality[("all", "all")]["tp"], quality[("all", "all")]["fp"]) == (4, 2)  # superseded
    history = tables.read("labels").to_pylist()
    assert sorted(r["origin"] for r in history if r["event_id"] == negative) == ["dataset", "human"]
