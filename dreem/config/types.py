"""Field types of the typed configs: strict scalars with messages that say what was expected.

Each type is an ``Annotated`` pydantic type whose before-validator accepts exactly the
values a YAML user means (an ``int`` where an int is asked, numpy scalars from Python
callers, YAML 1.1 strings such as ``"1e-8"`` where a float is asked) and rejects the rest
with ``expected <what>, got <type> <value>``. The key path is added by
:mod:`dreem.config.errors`, so messages never repeat it.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from annotated_types import Ge
from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?\.?(inf|nan)$", re.I)
NULL_HINT = "; null has no meaning here: remove the key (or leave it blank) for the default"


def fail(message: str, kind: str = "dreem") -> PydanticCustomError:
    """A validation error whose message is ``message`` verbatim."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def describe(value: Any) -> str:
    """``bool True``, ``str '2'``, ``null``: how a wrong value is shown in messages."""
    if value is None:
        return "null"
    name = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "mapping"}
    return f"{name.get(type(value), type(value).__name__)} {value!r}"


def _wrong(want: str, value: Any) -> PydanticCustomError:
    hint = NULL_HINT if value is None and "null" not in want else ""
    return fail(f"expected {want}, got {describe(value)}{hint}")


def parse_float(text: str) -> float | None:
    """A float from a YAML 1.1 string such as ``'1e-8'`` or ``'.inf'``; None if not numeric."""
    s = text.strip()
    if not _FLOAT_RE.match(s):
        return None
    return float(re.sub(r"\.inf", "inf", s, flags=re.I))


def as_int(value: Any) -> int | None:
    """``value`` as an int when it is an integer (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def as_float(value: Any) -> float | None:
    """``value`` as a float when it is a real number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return parse_float(value)
    return None


def _scalar(convert: Callable[[Any], Any], want: str, nullable: bool) -> BeforeValidator:
    shown = f"{want} or null" if nullable else want

    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        out = convert(value)
        if out is None:
            raise _wrong(shown, value)
        return out

    return BeforeValidator(check)


def _as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return None


def _as_bool(value: Any) -> bool | None:
    return bool(value) if isinstance(value, bool) else None


def _as_number(value: Any) -> int | float | None:
    """An int stays an int (counts), a float stays a float (fractions)."""
    i = as_int(value)
    return i if i is not None else as_float(value)


# JSON Schemas of the accepted input forms (wider than the stored Python types).
_NUM_STR = {"type": "string", "pattern": _FLOAT_RE.pattern}
_NULL = {"type": "null"}
_STR_OR_LIST = [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]


def _schema(*forms: dict) -> WithJsonSchema:
    return WithJsonSchema(forms[0] if len(forms) == 1 else {"anyOf": list(forms)})


Int = Annotated[int, _scalar(as_int, "int", False)]
OptInt = Annotated[int | None, _scalar(as_int, "int", True)]
Float = Annotated[float, _scalar(as_float, "float", False), _schema({"type": "number"}, _NUM_STR)]
OptFloat = Annotated[
    float | None, _scalar(as_float, "float", True), _schema({"type": "number"}, _NUM_STR, _NULL)
]
Bool = Annotated[bool, _scalar(_as_bool, "bool", False)]
OptBool = Annotated[bool | None, _scalar(_as_bool, "bool", True)]
Str = Annotated[str, _scalar(_as_str, "str", False)]
OptStr = Annotated[str | None, _scalar(_as_str, "str", True)]
Number = Annotated[int | float, _scalar(_as_number, "int or float", False)]
OptNumber = Annotated[int | float | None, _scalar(_as_number, "int or float", True)]


def _as_limit(value: Any) -> float | None:
    if value is None:
        return math.inf
    return as_float(value)


# A count limit where null and .inf both mean "no limit" (stored as math.inf).
Limit = Annotated[
    float,
    _scalar(_as_limit, "a number, .inf or null", False),
    _schema({"type": "number"}, _NUM_STR, _NULL),
]


def _as_mapping(value: Any) -> dict | None:
    return dict(value) if isinstance(value, dict) else None


Mapping_ = Annotated[dict[str, Any], _scalar(_as_mapping, "a mapping", False)]
OptMapping = Annotated[dict[str, Any] | None, _scalar(_as_mapping, "a mapping", True)]


def _list_of(convert: Callable[[Any], Any], want: str, single: bool, nullable: bool):
    """Before-validator for a list of ``want``; ``single``: a lone item becomes a list."""

    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        if single and not isinstance(value, list | tuple):
            item = convert(value)
            if item is None:
                raise _wrong(f"{want} or a list of them", value)
            return [item]
        if not isinstance(value, list | tuple):
            raise _wrong(f"a list of {want}", value)
        out = []
        for i, item in enumerate(value):
            conv = convert(item)
            if conv is None:
                raise fail(f"item [{i}]: expected {want}, got {describe(item)}")
            out.append(conv)
        return out

    return BeforeValidator(check)


StrList = Annotated[list[str], _list_of(_as_str, "str", True, False), _schema(*_STR_OR_LIST)]
OptStrList = Annotated[
    list[str] | None, _list_of(_as_str, "str", True, True), _schema(*_STR_OR_LIST, _NULL)
]
FloatList = Annotated[list[float], _list_of(as_float, "float", False, False)]
IntList = Annotated[list[int], _list_of(as_int, "int", False, False)]
OptIntList = Annotated[list[int] | None, _list_of(as_int, "int", False, True)]


def one_of(choices: Iterable[Any], aliases: dict[Any, Any] | None = None) -> BeforeValidator:
    """Accept one of ``choices`` (after ``aliases``); the error lists them and suggests one."""
    from dreem.config.errors import suggest

    allowed = tuple(choices)
    aliases = dict(aliases or {})

    def check(value: Any) -> Any:
        for src, dst in aliases.items():
            if _same(value, src):
                return dst
        if any(_same(value, c) for c in allowed):
            return value
        shown = list(dict.fromkeys(_show(c) for c in (*allowed, *aliases)))
        raise fail(f"{value!r} is not one of {', '.join(shown)}{suggest(value, shown)}")

    return BeforeValidator(check)


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse True with 1 (or 0 with False)."""
    return (type(a) is type(b) and a == b) or (a is None and b is None)


def _show(choice: Any) -> str:
    if choice is None:
        return "None"
    if isinstance(choice, str):
        return choice if choice else "''"
    return repr(choice)


def doc(default: Any, text: str, **kwargs: Any) -> Any:
    """``Field(default, description=text, ...)``; a list/dict default is copied per instance."""
    if isinstance(default, list | dict) or hasattr(default, "model_copy"):
        value = default
        return Field(default_factory=lambda: _copy(value), description=text, **kwargs)
    return Field(default, description=text, **kwargs)


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


PositiveInt = Annotated[int, Ge(1)]
