"""Turn pydantic validation errors into one ``ConfigError`` line per problem, with key paths.

Every line reads ``<key.path>: <what is wrong>`` (prefixed by the file when known), so the
first line of any config error already names a key path. Unknown keys get a "did you mean"
suggestion from the fields of the section they were found in.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from dreem.utils.errors import ConfigError


def suggest(word: Any, candidates: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    cands = [str(c) for c in candidates if c is not None and str(c)]
    word = str(word)
    for c in cands:
        if c.lower() == word.lower() and c != word:
            return f"; did you mean '{c}'?"
    best = difflib.get_close_matches(word, cands, n=1, cutoff=0.6)
    return f"; did you mean '{best[0]}'?" if best and best[0] != word else ""


def join(path: str, key: Any) -> str:
    """Extend a dotted key path (``a.b`` + ``c`` → ``a.b.c``; ints become ``[i]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def loc_path(loc: Sequence[Any], prefix: str = "") -> str:
    """A pydantic ``loc`` tuple as a dotted key path."""
    path = prefix
    for part in loc:
        path = join(path, part)
    return path or "config"


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside ``Annotated``/``Optional``/unions of an annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def section_at(root: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The config model class found at ``loc`` under ``root`` (None if not a section)."""
    current: Any = root
    for part in loc:
        nxt = None
        for t in _unwrap(current):
            if isinstance(t, type) and issubclass(t, BaseModel):
                field = t.model_fields.get(part) or _by_alias(t, part)
                if field is not None:
                    nxt = field.annotation
                    break
            origin = typing.get_origin(t)
            if origin in (dict, list):
                nxt = typing.get_args(t)[-1]
                break
        if nxt is None:
            return None
        current = nxt
    for t in _unwrap(current):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _by_alias(model: type[BaseModel], name: Any):
    for field in model.model_fields.values():
        if field.alias == name:
            return field
    return None


def field_names(model: type[BaseModel]) -> list[str]:
    """Accepted key names of a section (aliases included)."""
    return [f.alias or n for n, f in model.model_fields.items()]


def messages(err: ValidationError, root: type[BaseModel], prefix: str = "") -> list[str]:
    """One ``path: message`` line per pydantic error."""
    out: list[str] = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        kind = e["type"]
        ctx = e.get("ctx") or {}
        if kind == "extra_forbidden":
            parent = section_at(root, loc[:-1])
            hint = suggest(loc[-1], field_names(parent)) if parent else ""
            msg = f"unknown key{hint}"
        elif kind.startswith("dreem"):
            msg = str(ctx.get("message", e["msg"]))
            if msg.startswith("item ["):  # list item errors name the item in the path
                index, _, msg = msg[len("item [") :].partition("]: ")
                loc = (*loc, int(index))
        elif kind in ("greater_than_equal", "greater_than"):
            bound = ctx.get("ge", ctx.get("gt"))
            msg = f"{e['input']!r} is below the minimum {bound:g}"
        elif kind in ("less_than_equal", "less_than"):
            bound = ctx.get("le", ctx.get("lt"))
            msg = f"{e['input']!r} is above the maximum {bound:g}"
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            msg = f"expected a mapping, got {_describe(e['input'])}"
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "value_error":
            msg = e["msg"].removeprefix("Value error, ")
        else:
            msg = e["msg"]
        out.append(f"{loc_path(loc, prefix)}: {msg}")
    return list(dict.fromkeys(out))


def _describe(value: Any) -> str:
    from dreem.config.types import describe

    return describe(value)


def raise_errors(errors: list[str], source: str | None = None) -> None:
    """Raise one ``ConfigError`` with one line per problem (each naming the file), if any."""
    if not errors:
        return
    head = f"{source}: " if source else ""
    lines = [f"{head}{e}" for e in errors]
    err = ConfigError("\n".join(lines))
    err.errors = list(errors)  # type: ignore[attr-defined]
    raise err
