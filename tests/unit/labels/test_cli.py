"""The label commands' bad input: one line, exit status 2, nothing sent."""

from pathlib import Path

import pytest

from apps.cli import main
from tests.labelled_tables import open_tables


def test_labelling_an_unknown_event_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path))
    open_tables(tmp_path)
    assert main(["label", "no-such-event", "clear"]) == 2
    # the last line: a root handler an earlier test's `main` left may write to a stream closed since
    assert (
        capsys.readouterr().err.strip().splitlines()[-1]
        == "roadwatch: error: unknown_event: the tables hold no event 'no-such-event'"
    )


def test_importing_a_folder_that_is_no_dataset_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["labels", "import", "--dataset", str(tmp_path)]) == 2
    assert "has no images/ folder" in capsys.readouterr().err.strip().splitlines()[-1]
