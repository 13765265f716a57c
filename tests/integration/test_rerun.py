"""`replay --rerun` and dense evaluation on a throw-away catalog with the real tiers (`local` backend, the
shared models): TraCon images stored as events the detector decided alone; a wider band sends them to
`fast`, which never saw them; `--rerun` asks the tiers' own pipelines, stores the answers in the replay
namespace and brings `unknown` to 0, production tables untouched. `eval --dense` asks every tier about
every image of a dataset and `replay --dense` scores the same wide band from its opinions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from apps.cli import main
from roadwatch.analytics.opinions import OpinionStore
from roadwatch.analytics.tables import Tables
from schemas import Verdict
from tests.console_tables import write
from tests.factories import detection_result
from tests.integration.test_labels import subset
from tests.labelled_tables import labelled_verdict, new_label, open_tables

pytestmark = pytest.mark.integration
WIDE = ["--low", "0.05", "--high", "0.95"]


def copied(shared_dir: Path, ds: Path) -> list[tuple[Path, bool]]:
    """Two positives and two negatives of TraCon val, copied under `ds` (the tiers' allowed file root)."""
    chosen = subset(shared_dir / "datasets" / "tracon", ds, 2)
    return [(ds / "images" / "val" / path.name, truth) for path, truth in chosen]


def store_events(tables: Tables, images: list[tuple[Path, bool]]) -> list[Verdict]:
    """Each image as an event the detector decided alone (score 0.9 or 0.1), its detection naming the
    image by URI and sha256, and a dataset label."""
    verdicts, detections, labels = [], [], []
    for i, (path, truth) in enumerate(images):
        v = labelled_verdict(i, "cam-r", 0.9 if truth else 0.1, [], truth)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        d = detection_result(i, source=v.source_id, event_id=v.event_id)
        update = {"image_sha256": sha, "image_uri": path.as_uri(), "roadwork_score": v.detector_score}
        detections.append(d.model_copy(update={**update, "decision": "roadwork" if truth else "clear"}))
        verdicts.append(v)
        labels.append(new_label(v, sha, truth, 1))
    write(tables, "verdicts", list(verdicts))
    write(tables, "detections", list(detections))
    write(tables, "labels", list(labels))
    return verdicts


@pytest.fixture
def env(shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("ROADWATCH_VLM_MODELS_DIR", str(shared_dir / "models"))
    monkeypatch.setenv("ROADWATCH_DETECTOR_MODELS_DIR", str(shared_dir / "models"))
    monkeypatch.setenv("ROADWATCH_VLM_ALLOWED_FILE_ROOTS", json.dumps([str(tmp_path / "ds")]))
    return tmp_path


def last_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(list(args)) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return out


def test_rerun_asks_the_tiers_what_they_never_saw(
    env: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = open_tables(env / "warehouse")
    verdicts = store_events(tables, copied(shared_dir, env / "ds"))
    before = last_json(capsys, "replay", *WIDE, "--json")
    assert (before["unknown"], before["unknown_labelled"]) == (4, 4)

    after = last_json(capsys, "replay", *WIDE, "--rerun", "--json")
    assert (after["unknown"], after["events"], after["escalation_rate"]) == (0, 4, 1.0)
    rerun = after["rerun"]
    assert rerun["asked"]["fast"] == 4 and rerun["answered"]["fast"] == 4
    assert rerun["table"] == "roadwatch_replay.opinions"
    assert sum(after["decided_by"].values()) == 4
    assert after["tp"] + after["fn"] + after["tn"] + after["fp"] == 4

    asked = OpinionStore.open(tables.catalog, tables.namespace, "rerun").read()
    assert sorted(set(asked.column("event_id").to_pylist())) == sorted(v.event_id for v in verdicts)
    assert set(asked.column("asked_by").to_pylist()) == {"rerun"}
    assert set(asked.column("backend").to_pylist()) == {"local"}
    assert tables.read("verdicts").num_rows == 4  # production untouched
    assert {".".join(t) for t in tables.catalog.list_tables("roadwatch")} >= {"roadwatch.verdicts"}
    assert ("roadwatch", "opinions") not in tables.catalog.list_tables("roadwatch")

    again = last_json(capsys, "replay", *WIDE, "--rerun", "--json")
    assert again["unknown"] == 0 and again["rerun"]["asked"] == {
        "fast": 0,
        "power": 0,
        "precision": 0,
    }
    plain = last_json(capsys, "replay", *WIDE, "--json")
    assert plain["unknown"] == 4  # a plain replay reads production alone


def test_dense_opinions_score_a_band_production_never_tried(
    env: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = open_tables(env / "warehouse")
    store_events(tables, copied(shared_dir, env / "ds"))
    dense = last_json(capsys, "eval", "--dense", "--dataset", str(env / "ds"), "--json")
    assert (dense["images"], dense["table"]) == (4, "roadwatch_eval.opinions")
    tiers = dense["tiers"]
    assert set(tiers) == {"fast", "power", "precision"}
    assert all(t["answered"] + t["unparseable"] + t["failed"] == 4 for t in tiers.values())
    rows = OpinionStore.open(tables.catalog, tables.namespace, "dense").read()
    assert rows.num_rows == dense["opinions"] == 12
    assert set(rows.column("truth").to_pylist()) == {True, False}

    replayed = last_json(capsys, "replay", *WIDE, "--dense", "--json")
    assert replayed["unknown"] == 0 and replayed["tier_calls"]["fast"] == 4
    assert last_json(capsys, "replay", *WIDE, "--json")["unknown"] == 4
