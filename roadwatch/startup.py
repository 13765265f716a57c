"""Start-up errors as one line: a malformed setting, an unreachable stack or a taken port ends the process
with `<prog>: error: <what is wrong>` on stderr and exit status 2, the traceback only when the root logger is
at DEBUG.

    @one_line_errors("detector")
    def main() -> None:
        settings, kafka = DetectorSettings(), KafkaSettings()
        run_until_signalled(lambda stop: run(settings, kafka, stop))

`describe` names the setting as the user wrote it: the environment variable that is set (its env prefix plus
the field path, nested with the model's delimiter: `ROADWATCH_VLM_BREAKER__WINDOW_SIZE`), else the
`[section] key` of the `ROADWATCH_CONFIG` file that holds it, else the variable that would set it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tomllib
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsError

from roadwatch.errors import RoadwatchError

EXIT_CODE = 2
STARTUP_ERRORS = (ValidationError, SettingsError, RoadwatchError)
_SHOWN_INPUT = 60  # characters of a rejected value quoted back


def report(prog: str, exc: BaseException) -> None:
    """Write `<prog>: error: <one line>` to stderr, preceded by the traceback when logging is at DEBUG."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"{prog}: error: {describe(exc)}\n")


@contextmanager
def one_line_errors(prog: str) -> Iterator[None]:
    """Turn a settings error or a RoadwatchError (ConfigError, StackError, ...) raised in the block into
    `report(prog, exc)` and `SystemExit(2)`; anything else propagates with its traceback. Works as a
    decorator too."""
    try:
        yield
    except STARTUP_ERRORS as exc:
        report(prog, exc)
        raise SystemExit(EXIT_CODE) from exc


def describe(exc: BaseException) -> str:
    """One line for `exc`: each pydantic error as `<setting>: <what is wanted> (got <value>)`, joined by
    `; `; any other exception as its message."""
    if isinstance(exc, ValidationError):
        cls = _settings_class(exc)
        return "; ".join(_describe_error(cls, exc.title, error) for error in exc.errors())
    if isinstance(exc, SettingsError):
        return _describe_settings_error(exc)
    return " ".join(str(exc).split()) or type(exc).__name__


def _describe_error(cls: type[BaseModel] | None, title: str, error: Any) -> str:
    loc = tuple(error["loc"])
    msg = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    msg = msg[:1].lower() + msg[1:] if msg[1:2].islower() else msg
    if not loc:  # a model validator: name the fields its message mentions
        fields = [f for f in (cls.model_fields if cls else {}) if re.search(rf"\b{f}\b", msg)]
        names = ", ".join(_setting_name(cls, (f,)) for f in fields) if cls and fields else f"{title} settings"
        return f"{names}: {msg}"
    name = _setting_name(cls, loc) if cls else ".".join(map(str, (title, *loc)))
    value = error.get("input")
    if isinstance(value, str | int | float) and not _is_secret(cls, loc):
        shown = repr(value) if len(repr(value)) <= _SHOWN_INPUT else repr(value)[:_SHOWN_INPUT] + "..."
        msg += f" (got {shown})"
    return f"{name}: {msg}"


def _describe_settings_error(exc: SettingsError) -> str:
    """pydantic-settings' "error parsing value for field "x" from source "EnvSettingsSource"" (bad JSON)."""
    found = re.search(r'field "([^"]+)"', str(exc))
    cls = _settings_class(exc)
    if cls is None or found is None:
        return str(exc)
    wanted = "a JSON value is wanted" if "error parsing" in str(exc) else "the value cannot be read"
    cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
    return f"{_setting_name(cls, (found.group(1),))}: {wanted}{cause}"


def _settings_class(exc: BaseException) -> type[BaseSettings] | None:
    """The settings class whose construction raised `exc`, read off the traceback (pydantic's errors
    carry only the class's name, and per-tier classes share theirs)."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in ("__init__", "_settings_build_values"):
            owner = frame.f_locals.get("__pydantic_self__", frame.f_locals.get("cls"))
            owner = owner if isinstance(owner, type) else type(owner)
            if issubclass(owner, BaseSettings):
                found = owner
        tb = tb.tb_next
    return found


def setting_name(cls: type[BaseModel], field: str) -> str:
    """How the user set (or would set) the field `field` of `cls`, for a message that says what to fix:
    `setting_name(KafkaSettings, "sasl_password")` is `ROADWATCH_KAFKA_SASL_PASSWORD` unless the config
    file holds it."""
    return _setting_name(cls, (field,))


def _setting_name(cls: type[BaseModel], loc: Sequence[int | str]) -> str:
    """How the user set (or would set) the value at `loc`: an environment variable (the class's prefix, or
    an alias of the field such as `KAFKA_BOOTSTRAP_SERVERS`), a key of the config file, else the variable
    of the class's own prefix. Prefixes are tried from `cls` down its bases."""
    bases = [c for c in cls.__mro__ if issubclass(c, BaseSettings) and c.model_config.get("env_prefix")]
    candidates = []
    for k in range(len(loc), 0, -1):
        path = loc[:k]
        delimiter = bases[0].model_config.get("env_nested_delimiter") if bases else None
        if all(isinstance(p, str) for p in path) and (k == 1 or delimiter):
            rest = ".".join(map(str, loc[k:]))
            candidates.append(((delimiter or "").join(map(str, path)).upper(), f" at {rest}" if rest else ""))
    environ = {key.upper() for key in os.environ}
    for base in bases:
        for var, rest in candidates:
            if base.model_config["env_prefix"].upper() + var in environ:
                return base.model_config["env_prefix"].upper() + var + rest
    alias = _env_alias(cls, loc, environ)
    if alias:
        return alias
    in_file = _config_file_key(cls, loc)
    if in_file:
        return in_file
    prefix = bases[0].model_config["env_prefix"].upper() if bases else ""
    var, rest = candidates[0] if candidates else (".".join(map(str, loc)).upper(), "")
    return prefix + var + rest


def _env_alias(cls: type[BaseModel], loc: Sequence[int | str], environ: set[str]) -> str | None:
    """The first alias of the top-level field of `loc` that names a set environment variable."""
    field = cls.model_fields.get(str(loc[0]))
    alias = field.validation_alias if field else None
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    for choice in choices:
        if isinstance(choice, str) and choice != loc[0] and choice.upper() in environ:
            return choice.upper()
    return None


def _config_file_key(cls: type[BaseModel], loc: Sequence[int | str]) -> str | None:
    """`[section] key in <file>` when the ROADWATCH_CONFIG file sets the top-level field of `loc`."""
    path = os.environ.get("ROADWATCH_CONFIG")
    sections = [s for c in cls.__mro__ if (s := getattr(c, "section", "")) and isinstance(s, str)]
    if not path or not sections:
        return None
    try:
        data: Any = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for section in dict.fromkeys(sections):
        table = data
        for part in section.split("."):
            table = table.get(part, {}) if isinstance(table, dict) else {}
        if isinstance(table, dict) and loc[0] in table:
            return f"[{section}] {'.'.join(map(str, loc))} in {path}"
    return None


def _is_secret(cls: type[BaseModel] | None, loc: Sequence[int | str]) -> bool:
    """Whether the value at `loc` may be a secret, which is then never quoted back."""
    field = cls.model_fields.get(str(loc[0])) if cls else None
    annotation = str(field.annotation) if field else ""
    return "Secret" in annotation or bool(re.search(r"password|secret|token|api_key", str(loc[0])))
