"""`roadwatch produce` reaches the broker the environment names, and says so when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.cli import main


def test_produce_honours_kafka_bootstrap_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(b"not read: the broker is checked first")
    monkeypatch.delenv("ROADWATCH_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("ROADWATCH_PRODUCER_CONNECT_TIMEOUT_S", "1.5")
    assert main(["produce", str(image), "--source", "x"]) == 2
    err = capsys.readouterr().err
    assert "Kafka at 127.0.0.1:1 did not answer" in err


def test_a_bad_source_is_one_line_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["produce", str(tmp_path / "frame.jpg"), "--source", "cam 1/../x"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("roadwatch: error: source id 'cam 1/../x'")
    assert "Traceback" not in err
