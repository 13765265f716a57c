"""`roadwatch export dataset` end to end on a real Iceberg catalog and real TraCon images: the escalated
events' images fetched under the allow-list, grouped per image, labelled with the newest label over the
verdict, and read back by the evaluation's dataset reader; a second export into the same folder refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from apps.cli import main
from apps.evaluation.dataset import load_samples
from schemas import Detection, DetectionResult, Label, Verdict
from tests.console_tables import write
from tests.factories import detection_result
from tests.labelled_tables import labelled_verdict, new_label, open_tables, opinion

pytestmark = pytest.mark.integration
CONE = Detection(
    label="traffic_cone", class_id=0, confidence=0.6, x1=0.2, y1=0.5, x2=0.4, y2=0.9, model="cone"
)


def stored(i: int, v: Verdict, image: Path, boxes: list[Detection]) -> DetectionResult:
    decision = "escalate" if v.opinions else ("roadwork" if v.roadwork else "clear")
    return detection_result(i, source=v.source_id, event_id=v.event_id).model_copy(
        update={
            "image_uri": image.as_uri(),
            "image_sha256": hashlib.sha256(image.read_bytes()).hexdigest(),
            "detections": boxes,
            "roadwork_score": v.detector_score,
            "decision": decision,
        }
    )


def test_the_escalated_images_export_as_a_dataset_the_evaluation_reads(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frames, outside = tmp_path / "frames", tmp_path / "outside"
    frames.mkdir()
    outside.mkdir()
    tracon = sorted((shared_dir / "datasets" / "tracon" / "images" / "val").iterdir())[:5]
    images = [shutil.copy(p, (outside if i == 4 else frames) / p.name) for i, p in enumerate(tracon)]
    a, b, c, d, e = (Path(p) for p in images)
    fast_yes, fast_no = [opinion("fast", True, 0.9)], [opinion("fast", False, 0.9)]
    verdicts = [
        labelled_verdict(0, "cam-a", 0.3, fast_yes, True),  # a: roadwork by its verdict
        labelled_verdict(1, "cam-b", 0.35, fast_yes, True),  # a again, from another camera
        labelled_verdict(2, "cam-a", 0.3, fast_yes, True),  # b: a person says clear
        labelled_verdict(3, "cam-a", 0.2, fast_no, False),  # c: the dataset says roadwork, no box
        labelled_verdict(4, "cam-a", 0.9, [], True),  # d: decided by the detector, not escalated
        labelled_verdict(5, "cam-a", 0.3, fast_yes, True),  # e: outside the allow-list
    ]
    shown = [a, a, b, c, d, e]
    boxes = [[CONE], [CONE], [CONE], [], [CONE], [CONE]]
    detections = [stored(i, v, shown[i], boxes[i]) for i, v in enumerate(verdicts)]
    sha = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)}
    labels: list[Label] = [
        new_label(verdicts[2], sha[b], False, 1, origin="human"),
        new_label(verdicts[3], sha[c], True, 1),
    ]
    warehouse = tmp_path / "warehouse"
    tables = open_tables(warehouse)
    write(tables, "verdicts", list(verdicts))
    write(tables, "detections", list(detections))
    write(tables, "labels", list(labels))
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("ROADWATCH_EXPORT_ALLOWED_FILE_ROOTS", str(frames))

    out = tmp_path / "hard"
    assert main(["export", "dataset", "--where", "escalated", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["selected"], summary["images"], summary["roadwork"], summary["boxes"]) == (4, 2, 1, 1)
    assert summary["skipped_reasons"] == {"no_boxes": 1, "uri_not_allowed": 1}

    samples = load_samples(out, "train") + load_samples(out, "val")
    assert {s.path.stem: s.roadwork for s in samples} == {sha[a]: True, sha[b]: False}
    assert {s.path.suffix for s in samples} == {".jpg"}
    manifest = json.loads((out / "manifest.json").read_text())
    entry = next(m for m in manifest["images"] if m["image_sha256"] == sha[a])
    assert [ev["event_id"] for ev in entry["events"]] == [verdicts[1].event_id, verdicts[0].event_id]
    assert {ev["source_id"] for ev in entry["events"]} == {"cam-a", "cam-b"}
    assert entry["truth"]["origin"] == "verdict" and entry["events"][0]["detector_models"] == ["cone@1"]
    clear = next(m for m in manifest["images"] if m["image_sha256"] == sha[b])
    assert (clear["truth"]["origin"], clear["dropped_boxes"]) == ("human", 1)
    assert manifest["classes"] == ["traffic_cone"]
    assert f"path: {json.dumps(str(out.resolve()))}\n" in (out / "data.yaml").read_text()

    assert main(["export", "dataset", "--where", "escalated", "--out", str(out)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
