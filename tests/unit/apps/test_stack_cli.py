import argparse
from pathlib import Path

import pytest

from apps.cli import stack_cmd


def test_wipe_removes_the_flink_checkpoints_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    checkpoints = tmp_path / "flink" / "checkpoints"
    (checkpoints / "roadwatch-flink" / "job" / "chk-3").mkdir(parents=True)
    monkeypatch.setattr(stack_cmd, "FLINK_CHECKPOINTS", checkpoints)
    monkeypatch.setattr(stack_cmd.control, "down", lambda stack, wipe: False)
    assert stack_cmd._down(argparse.Namespace(wipe=False)) == 0
    assert checkpoints.exists()  # a plain stop keeps them: the next run resumes from them
    assert stack_cmd._down(argparse.Namespace(wipe=True)) == 0
    assert not checkpoints.exists()
    assert stack_cmd._down(argparse.Namespace(wipe=True)) == 0  # nothing left to remove
