"""Describe the DREEM config's keys (``dreem config show --keys``) from the section classes."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from dreem.config.dreem import DreemConfig
from dreem.config.errors import _unwrap


def _section_type(annotation: Any) -> type[BaseModel] | None:
    for t in _unwrap(annotation):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _type_name(annotation: Any) -> str:
    names = []
    for t in _unwrap(annotation):
        origin = typing.get_origin(t)
        if t is type(None):
            names.append("null")
        elif origin is not None:
            names.append(getattr(origin, "__name__", str(origin)))
        elif typing.get_origin(t) is typing.Literal or str(t).startswith("typing.Literal"):
            names.append("|".join(repr(a) for a in typing.get_args(t)))
        else:
            names.append(getattr(t, "__name__", str(t)))
    return "|".join(dict.fromkeys(names))


def _default(field: Any) -> Any:
    if field.default_factory is not None:
        value = field.default_factory()
        return value.to_dict() if isinstance(value, BaseModel) else value
    return field.default


def describe(path: str = "") -> str:
    """``key (types) = default  doc`` lines for the section at dotted ``path``."""
    model: type[BaseModel] = DreemConfig
    for part in path.split(".") if path else []:
        field = model.model_fields.get(part)
        sub = _section_type(field.annotation) if field is not None else None
        if sub is None:
            raise KeyError(f"{path}: not a config section")
        model = sub
    lines = [f"{path or 'config'}:  {(model.__doc__ or '').strip().splitlines()[0]}"]

    def walk(cls: type[BaseModel], depth: int) -> None:
        for name, field in cls.model_fields.items():
            pad = "  " * depth
            sub = _section_type(field.annotation)
            if sub is not None:
                lines.append(f"{pad}{name}:  {field.description or ''}")
                walk(sub, depth + 1)
            else:
                kind = _type_name(field.annotation)
                lines.append(f"{pad}{name} ({kind}) = {_default(field)!r}  {field.description}")

    walk(model, 1)
    return "\n".join(lines)
