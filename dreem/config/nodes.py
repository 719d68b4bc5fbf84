"""Building blocks of the config schema: a typed key, a section of keys, a free-named map.

The schema is plain Python data built from these three node kinds (see ``schema.py``); the
validator, the defaulting, the docs and the JSON Schema export all walk the same tree.

Type names used in ``Key.types``: ``bool``, ``int``, ``float``, ``str``, ``list``, ``dict``,
``null``. ``null`` in ``types`` means the key may be ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

TYPE_NAMES = ("bool", "int", "float", "str", "list", "dict", "null")


@dataclass(frozen=True)
class Key:
    """One leaf key.

    ``types``: accepted types, in order of preference. ``items``: element types when the value is
    a list. ``choices``: allowed values (after type coercion). ``insert``: ``True`` → present
    after defaulting; ``False`` → only validated when given (free kwargs that would break other
    constructors); a string → inserted only when the section's ``name`` equals that string.
    ``value_aliases``: accepted values rewritten after validation (e.g. ``'torch'`` →
    ``'torchvision'``, ``None`` → ``'off'``).
    """

    types: tuple[str, ...]
    default: Any = None
    doc: str = ""
    choices: tuple[Any, ...] | None = None
    items: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    insert: bool | str = True
    value_aliases: Mapping[Any, Any] | None = None

    def __post_init__(self) -> None:
        bad = [t for t in self.types + (self.items or ()) if t not in TYPE_NAMES]
        if bad:
            raise ValueError(f"unknown type name(s) {bad} in schema key")

    @property
    def nullable(self) -> bool:
        return "null" in self.types


@dataclass(frozen=True)
class Section:
    """A mapping with known keys.

    ``open``: unknown keys pass through unvalidated (constructor kwargs). ``nullable``: the whole
    section may be ``null``. ``default_null``: the section is ``None`` unless given (when given,
    its keys are defaulted). ``aliases``: legacy key → canonical key (rewritten on load).
    ``null_as``: what a given ``null`` stands for (validated and defaulted like a mapping), so the
    result keeps a stable shape (e.g. ``pos: null`` → ``{mode: off, ...}``).
    """

    keys: Mapping[str, Node]
    doc: str = ""
    open: bool = False
    nullable: bool = False
    default_null: bool = False
    aliases: Mapping[str, str] = field(default_factory=dict)
    null_as: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class MapOf:
    """A mapping from free names to values that all follow ``value``.

    A user-given map replaces the default map wholesale (e.g. giving ``augmentations`` drops the
    default augmentations rather than adding to them).
    """

    value: Node
    doc: str = ""
    default: Mapping[str, Any] | None = None
    nullable: bool = False
    name_pattern: str | None = None


Node = Union[Key, Section, MapOf]  # noqa: UP007 - used at runtime in isinstance-free code
