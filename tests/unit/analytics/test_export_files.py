"""Writing hard examples as a YOLO dataset: images fetched under the allow-list with their sha256 checked,
label files the evaluation reads back as the truth, a data.yaml whose splits always resolve, and every image
left out named in the manifest with its reason."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from apps.evaluation.dataset import load_samples
from roadwatch.analytics.export import Truth, examples, parse_where
from roadwatch.analytics.export_files import ExportSettings, data_yaml, write_dataset
from roadwatch.errors import ConfigError
from roadwatch.images.fetch import FetchPolicy
from roadwatch.images.inspect import ImageLimits
from tests.unit.analytics.test_export import event


def png(path: Path, shade: int) -> tuple[str, str]:
    """A small PNG at `path`: its file URI and sha256."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (shade, 0, 0)).save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path.as_uri(), hashlib.sha256(out.getvalue()).hexdigest()


def test_the_dataset_reads_back_as_its_truth_and_names_what_it_left_out(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    root.mkdir()
    shots = [png(root / f"{i}.png", 40 * i) for i in range(4)]
    outside = png(tmp_path / "elsewhere.png", 250)
    human_clear = Truth(False, "human", "ana", "l1")
    events = [
        event(0, image_uri=shots[0][0], image_sha256=shots[0][1]),  # roadwork (its verdict): one box
        event(1, image_uri=shots[1][0], image_sha256=shots[1][1], label=human_clear),
        event(2, image_uri=shots[2][0], image_sha256=shots[2][1], boxes=()),  # roadwork, no box
        event(3, image_uri=shots[3][0], image_sha256="d" * 64),  # not the stored image
        event(4, image_uri=outside[0], image_sha256=outside[1]),
        event(5, image_uri=None, image_sha256="c" * 64),  # sent inline: not kept
    ]
    flagged = examples([replace(e, degraded=True) for e in events], parse_where("degraded"))
    out = tmp_path / "ds"
    progress: list[int] = []
    written = write_dataset(
        flagged,
        out,
        FetchPolicy(file_roots=(root,)),
        ImageLimits(),
        val_fraction=0.0,
        query={"where": "degraded"},
        progress=progress.append,
    )
    assert len(progress) == 6
    assert written.as_dict() == {
        "images": 2,
        "roadwork": 1,
        "clear": 1,
        "boxes": 1,
        "train": 2,
        "val": 0,
        "skipped": 4,
        "skipped_reasons": {"hash_mismatch": 1, "no_boxes": 1, "no_image": 1, "uri_not_allowed": 1},
    }
    samples = {s.path.stem: s.roadwork for s in load_samples(out, "train")}
    assert samples == {shots[0][1]: True, shots[1][1]: False}
    assert (
        out / "labels" / "train" / f"{shots[0][1]}.txt"
    ).read_text() == "0 0.200000 0.400000 0.200000 0.400000\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == ["cone"] and manifest["query"] == {"where": "degraded"}
    clear = next(m for m in manifest["images"] if m["image_sha256"] == shots[1][1])
    assert (clear["truth"]["origin"], clear["dropped_boxes"], clear["events"][0]["event_id"]) == (
        "human",
        1,
        "e1",
    )
    assert clear["events"][0]["matched"] == ["degraded", "label-disagreed"]
    assert {s["reason"] for s in manifest["skipped"]} == set(written.skipped)
    assert "val: images/train\n" in (out / "data.yaml").read_text()  # no val image: it borrows train


def test_data_yaml_names_the_classes_and_both_splits(tmp_path: Path) -> None:
    text = data_yaml(tmp_path, ["cone", 'odd "name"'], Counter(train=3, val=1))
    assert text.splitlines()[1:] == [
        f'path: "{tmp_path.resolve()}"',
        "train: images/train",
        "val: images/val",
        "nc: 2",
        'names: ["cone", "odd \\"name\\""]',
    ]
    assert "train: images/val\n" in data_yaml(tmp_path, ["cone"], Counter(val=2))


def test_an_export_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(ConfigError, match="not an empty folder"):
        write_dataset([], tmp_path, FetchPolicy(), ImageLimits(), val_fraction=0.2, query={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


def test_no_allow_list_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("FILE_ROOTS", "HTTP_HOSTS", "S3_BUCKETS"):
        monkeypatch.delenv(f"ROADWATCH_EXPORT_ALLOWED_{name}", raising=False)
    with pytest.raises(ConfigError, match="ROADWATCH_EXPORT_ALLOWED_FILE_ROOTS"):
        ExportSettings().checked_policy()
    monkeypatch.setenv("ROADWATCH_EXPORT_ALLOWED_FILE_ROOTS", str(tmp_path))
    assert ExportSettings().checked_policy().file_roots == (tmp_path,)
