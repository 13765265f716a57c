"""A bad setting ends the CLI and every service with one line naming the setting (the traceback only at
DEBUG): `roadwatch.startup.describe` over a table of malformed settings, `one_line_errors`, and `roadwatch`
itself."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from apps.cli import main
from roadwatch.analytics.settings import QuerySettings
from roadwatch.errors import ConfigError
from roadwatch.stack.settings import StackSettings
from roadwatch.startup import describe, one_line_errors
from services.detector.settings import DetectorSettings
from services.vlm_tier.settings import tier_settings

INT = "input should be a valid integer, unable to parse string as an integer"


@pytest.fixture(autouse=True)
def root_logger() -> Iterator[None]:
    """`main` configures the root logger; put it back for the next test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def error_of(build: Callable[[], BaseModel]) -> str:
    with pytest.raises(Exception) as err:
        build()
    return describe(err.value)


@pytest.mark.parametrize(
    ("env", "build", "line"),
    [
        (
            {"ROADWATCH_DETECTOR_BATCH_SIZE": "abc"},
            DetectorSettings,
            f"ROADWATCH_DETECTOR_BATCH_SIZE: {INT} (got 'abc')",
        ),
        (
            {"ROADWATCH_VLM_POWER_TIMEOUT_S": "-1"},
            lambda: tier_settings("power"),
            "ROADWATCH_VLM_POWER_TIMEOUT_S: input should be greater than 0 (got '-1')",
        ),
        (  # the variable that is set, here the one every tier shares
            {"ROADWATCH_VLM_BACKEND": "gpu"},
            lambda: tier_settings("fast"),
            "ROADWATCH_VLM_BACKEND: input should be 'openai' or 'local' (got 'gpu')",
        ),
        (  # a nested model's field, with the model's delimiter
            {"ROADWATCH_VLM_BREAKER__WINDOW_SIZE": "x"},
            lambda: tier_settings("fast"),
            f"ROADWATCH_VLM_BREAKER__WINDOW_SIZE: {INT} (got 'x')",
        ),
        (  # a model validator: the fields its message names
            {"ROADWATCH_DETECTOR_BAND_LOW": "0.9", "ROADWATCH_DETECTOR_BAND_HIGH": "0.1"},
            DetectorSettings,
            "ROADWATCH_DETECTOR_BAND_LOW, ROADWATCH_DETECTOR_BAND_HIGH: band_low 0.9 > band_high 0.1",
        ),
        (  # not JSON where JSON is wanted: pydantic-settings' SettingsError
            {"ROADWATCH_QUERY_COST_PER_CALL": "notjson"},
            QuerySettings,
            "ROADWATCH_QUERY_COST_PER_CALL: a JSON value is wanted "
            "(Expecting value: line 1 column 1 (char 0))",
        ),
        (  # two errors, one line
            {"ROADWATCH_STACK_PORT": "abc", "ROADWATCH_STACK_PARTITIONS": "0"},
            StackSettings,
            f"ROADWATCH_STACK_PORT: {INT} (got 'abc'); "
            "ROADWATCH_STACK_PARTITIONS: input should be greater than or equal to 1 (got '0')",
        ),
    ],
)
def test_describe_names_the_variable_and_what_is_wanted(
    env: dict[str, str], build: Callable[[], BaseModel], line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert error_of(build) == line


def test_describe_never_quotes_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADWATCH_STACK_SASL_USERS", '{"camfleet": 123456}')
    line = error_of(StackSettings)
    assert line.startswith("ROADWATCH_STACK_SASL_USERS at camfleet: ") and "123456" not in line


def test_describe_names_the_config_file_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "roadwatch.toml"
    cfg.write_text('[detector]\nbatch_size = "many"\n')
    monkeypatch.setenv("ROADWATCH_CONFIG", str(cfg))
    assert error_of(DetectorSettings) == f"[detector] batch_size in {cfg}: {INT} (got 'many')"


def test_one_line_errors_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    @one_line_errors("detector")
    def start() -> None:
        raise ConfigError("ROADWATCH_DETECTOR_MODELS_DIR: /nowhere does not exist")

    with pytest.raises(SystemExit) as exit_:
        start()
    assert exit_.value.code == 2
    assert (
        capsys.readouterr().err == "detector: error: ROADWATCH_DETECTOR_MODELS_DIR: /nowhere does not exist\n"
    )
    logging.getLogger().setLevel(logging.DEBUG)
    with pytest.raises(SystemExit):
        start()
    assert "Traceback" in capsys.readouterr().err


def test_one_line_errors_leaves_other_errors_alone() -> None:
    with pytest.raises(ZeroDivisionError), one_line_errors("detector"):
        _ = 1 / 0


@pytest.mark.parametrize(
    ("env", "argv", "variable"),
    [
        ({"ROADWATCH_STACK_PORT": "abc"}, ["stack", "status"], "ROADWATCH_STACK_PORT"),
        ({"ROADWATCH_QUERY_COST_PER_CALL": "notjson"}, ["query", "tiers"], "ROADWATCH_QUERY_COST_PER_CALL"),
        ({"ROADWATCH_CATALOG_WAREHOUSE": "a-file"}, ["query", "funnel"], "ROADWATCH_CATALOG_WAREHOUSE"),
    ],
)
def test_cli_prints_one_line_and_exits_2(
    env: dict[str, str],
    argv: list[str],
    variable: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROADWATCH_CATALOG_WAREHOUSE", str(tmp_path / "warehouse"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("roadwatch: error: ") and variable in err
    assert main(["--log-level", "DEBUG", *argv]) == 2
    assert "Traceback" in capsys.readouterr().err
