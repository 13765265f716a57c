"""The sink's decisions (pure): when a flush is due, which of its own dead letters a previous run already
wrote, and which parsed records the typed model takes (its constraints as vectorised checks)."""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Annotated, Any, Literal, TypeAlias, Union, get_args, get_origin

import annotated_types
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from roadwatch.iceberg.offsets import Offsets
from schemas import DeadLetter
from services.sink.settings import SinkSettings


class Flush(Enum):
    NOW = "now"
    NOT_YET = "not yet"
    NOTHING_TO_FLUSH = "nothing to flush"  # the interval passed with empty buffers: start a new one


def flush_due(buffered: int, buffered_bytes: int, since_last_s: float, settings: SinkSettings) -> Flush:
    """Flush once `flush_rows` records or `flush_bytes` bytes of them are buffered, or when the freshness
    target (`freshness_ms` since the last flush) passed with any buffered: whichever comes first."""
    interval_passed = since_last_s >= settings.freshness_ms / 1000
    full = buffered >= settings.flush_rows or buffered_bytes >= settings.flush_bytes
    if full or (interval_passed and buffered):
        return Flush.NOW
    return Flush.NOTHING_TO_FLUSH if interval_passed else Flush.NOT_YET


def not_yet_written(letter: DeadLetter, done: Offsets) -> bool:
    """Whether the `dead_letters` table's offsets (`done`) do not cover the record `letter` describes yet."""
    return done.get((letter.source_topic, letter.partition), -1) <= letter.offset


# ---------------------------------------------------------------------------------------------------------
# Which parsed records the typed model takes: its constraints, derived from its fields, as vectorised checks
# over the columns Arrow's JSON reader makes. A record that passes is one the model takes as is. A check may
# turn down a value the model takes (a float that is not finite, a timestamp spelt another way): that record
# only goes through the model. What has no check here (a validator, a strict model, a constraint this does
# not know) raises TypeError when the check is built, never a silent pass.

Values: TypeAlias = pa.Array | pa.ChunkedArray
Check = Callable[[Values], Values]
"""Whether the model takes each value: booleans, true or false, never null."""

# AwareDatetime values Arrow's cast reads as the model does: ISO 8601 with seconds, at most microseconds,
# a zone. A day past the month's end (30 February) passes this and fails the cast (the caller's concern).
AWARE_TIME = (
    r"^(?:000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
)
_ORDER = {"ge": pc.greater_equal, "gt": pc.greater, "le": pc.less_equal, "lt": pc.less}
_LENGTHS = frozenset({"min_length", "max_length"})
_WIDER_IN_RE2 = re.compile(r"\\[DWSbBpP]|\(\?[^:]|\[\^[^\]]*\\[dws]")  # \D, \b, (?i), [^\d], ...


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_floating(t) or pa.types.is_integer(t))


# per type: the Arrow types its JSON is read as, the constraints checked (floats are checked finite
# whatever allow_inf_nan says: the model decides the others)
_SCALARS: dict[Any, tuple[Callable[[pa.DataType], bool], frozenset[str]]] = {
    str: (_is_text, _LENGTHS | {"pattern"}),
    int: (pa.types.is_integer, frozenset(_ORDER)),
    float: (_is_number, frozenset({*_ORDER, "allow_inf_nan"})),
    bool: (pa.types.is_boolean, frozenset()),
    AwareDatetime: (_is_text, frozenset()),
}
_PLAIN_CONFIG = frozenset({"extra", "frozen", "allow_inf_nan", "title"})


def _none(values: Values) -> pa.Array:
    return pa.repeat(False, len(values))


def _constraints(metadata: Iterable[object], where: str) -> dict[str, Any]:
    """A field's constraints by name: `Ge(ge=0)` → {"ge": 0}; pydantic's own (pattern, ...) likewise."""
    out: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, FieldInfo):
            out |= _constraints(m.metadata, where)
        elif dataclasses.is_dataclass(m) and not isinstance(m, type):
            out |= {f.name: getattr(m, f.name) for f in dataclasses.fields(m)}
        elif isinstance(m, annotated_types.BaseMetadata):
            out |= vars(m)
        else:
            raise TypeError(f"{where}: no vectorised check for {m!r}")
    return out


def _predicates(
    constraints: dict[str, Any], allowed: frozenset[str], where: str, size: Check = pc.utf8_length
) -> list[Check]:
    """The checks of `constraints`; `size` measures a value for min_length and max_length."""
    if unknown := set(constraints) - allowed:
        raise TypeError(f"{where}: no vectorised check for {sorted(unknown)}")
    out = [_compared(_ORDER[n], bound) for n, bound in constraints.items() if n in _ORDER]
    if _LENGTHS & constraints.keys():
        out.append(_sized(size, constraints.get("min_length", 0), constraints.get("max_length")))
    if "pattern" in constraints:
        out.append(_matching(_re2(constraints["pattern"], where)))
    return out


def _re2(pattern: Any, where: str) -> str:
    """`pattern` for RE2 (Arrow's engine), refused where RE2 may match more than the model's engine: the
    model's `\\d`, `\\w`, `\\s` take Unicode, RE2's only ASCII, so their negations and flags differ."""
    text = str(getattr(pattern, "pattern", pattern))
    if _WIDER_IN_RE2.search(text):
        raise TypeError(f"{where}: no vectorised check for the pattern {text!r}")
    return text


def _compared(op: Callable[[Values, Any], Values], bound: Any) -> Check:
    return lambda v: op(v, bound)


def _sized(size: Check, low: int, high: int | None) -> Check:
    def check(values: Values) -> Values:
        n = size(values)
        ok = pc.greater_equal(n, low)
        return ok if high is None else pc.and_(ok, pc.less_equal(n, high))

    return check


def _matching(pattern: str) -> Check:
    return lambda v: pc.match_substring_regex(_whole(v), pattern)


def _whole(values: Values) -> pa.Array:
    """One array of `values`: a regex is compiled once per chunk, which costs more than the copy."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _all_of(values: Values, first: Values, predicates: list[Check]) -> Values:
    ok = first
    for p in predicates:
        ok = pc.and_(ok, p(values))
    return ok


def _or_null(check: Check, null_ok: bool) -> Check:
    def checked(values: Values) -> Values:
        ok = check(values)
        if ok.null_count:
            ok = pc.fill_null(ok, False)
        return pc.if_else(values.is_null(), null_ok, ok) if values.null_count else ok

    return checked


def _optional(annotation: Any) -> tuple[Any, bool]:
    """(T, whether None is allowed) of `T | None` or `T`."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def _scalar_check(kind: Any, constraints: dict[str, Any], where: str) -> Check:
    is_kind, allowed = _SCALARS[kind]
    predicates = _predicates(constraints, allowed, where)

    def check(values: Values) -> Values:
        if not is_kind(values.type):  # the model reads this JSON another way: it decides
            return _none(values)
        if kind is AwareDatetime:
            first = pc.match_substring_regex(_whole(values), AWARE_TIME)
        else:
            first = pc.is_finite(values) if pa.types.is_floating(values.type) else values.is_valid()
        return _all_of(values, first, predicates)

    return check


def _literal_check(options: tuple[Any, ...], where: str) -> Check:
    kinds = {type(o) for o in options}
    if len(kinds) != 1 or not kinds <= {str, int, bool}:
        raise TypeError(f"{where}: no vectorised check for Literal{list(options)}")
    is_kind = _SCALARS[kinds.pop()][0]

    def check(values: Values) -> Values:
        if not is_kind(values.type):
            return _none(values)
        return pc.is_in(values, value_set=pa.array(options, values.type))

    return check


def _list_check(element: Check, constraints: dict[str, Any], where: str) -> Check:
    predicates = _predicates(constraints, _LENGTHS, where, pc.list_value_length)

    def check(values: Values) -> Values:
        if not (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)):
            return _none(values)
        ok = _all_of(values, values.is_valid(), predicates)
        if not pc.any(pc.invert(element(pc.list_flatten(values)))).as_py():
            return ok
        one = _whole(values)  # rare: the simple way
        bad = pc.filter(pc.list_parent_indices(one), pc.invert(element(pc.list_flatten(one))))
        rows = np.ones(len(one), bool)
        rows[bad.to_numpy()] = False
        return pc.and_(ok, pa.array(rows))

    return check


def _value_check(annotation: Any, constraints: dict[str, Any], where: str) -> Check:
    """The model's check of a (non-null) value of type `annotation` with `constraints`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        return _value_check(inner, _constraints(metadata, where) | constraints, where)
    if origin is list and get_args(annotation):
        element, optional = _optional(get_args(annotation)[0])
        return _list_check(_or_null(_value_check(element, {}, where), optional), constraints, where)
    if annotation in _SCALARS:
        return _scalar_check(annotation, constraints, where)
    _predicates(constraints, frozenset(), where)  # none apply to what follows
    if origin is Literal:
        return _literal_check(get_args(annotation), where)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_check(annotation)
    raise TypeError(f"{where}: no vectorised check for {annotation!r}")


def _field_check(info: FieldInfo, where: str) -> Check:
    if info.alias or info.validation_alias:
        raise TypeError(f"{where}: no vectorised check for a field read under another name")
    annotation, optional = _optional(info.annotation)
    # a missing field reads as null: null passes only where the model would put None too
    null_ok = optional and info.default is None
    return _or_null(_value_check(annotation, _constraints(info.metadata, where), where), null_ok)


def model_check(model: type[BaseModel]) -> Check:
    """`model`'s check of struct values with its fields (a field the model lacks must be null).

    Raises:
        TypeError: `model` has a validator, a setting or a constraint with no vectorised check here.
    """
    decorators = model.__pydantic_decorators__
    hooks = [f.name for f in dataclasses.fields(decorators) if getattr(decorators, f.name)]
    if hooks or (settings := set(model.model_config) - _PLAIN_CONFIG):
        raise TypeError(f"{model.__name__}: no vectorised check for its {sorted(hooks) or sorted(settings)}")
    fields = {n: _field_check(info, f"{model.__name__}.{n}") for n, info in model.model_fields.items()}

    def check(values: Values) -> Values:
        if not pa.types.is_struct(values.type) or not fields.keys() <= {f.name for f in values.type}:
            return _none(values)
        ok = values.is_valid()
        for f, child in zip(values.type, values.flatten(), strict=True):
            ok = pc.and_(ok, fields[f.name](child) if f.name in fields else child.is_null())
        return ok

    return check
