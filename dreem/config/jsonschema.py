"""Convert schema nodes (``nodes.py``) to JSON Schema (draft 2020-12 compatible subset)."""

from __future__ import annotations

import math
from typing import Any

from dreem.config.nodes import Key, MapOf, Node, Section

_JSON_TYPES = {
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "str": "string",
    "list": "array",
    "dict": "object",
    "null": "null",
}
# YAML 1.1 reads 1e-4 (no dot) as a string; the loader accepts such strings for float keys.
FLOAT_STRING = {"type": "string", "pattern": r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"}


def _jsonable(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(_jsonable(x) for x in v.values())
    if isinstance(v, list | tuple):
        return all(_jsonable(x) for x in v)
    return True


def _types_schema(types: tuple[str, ...], items: tuple[str, ...] | None) -> dict:
    out: dict[str, Any] = {"type": [_JSON_TYPES[t] for t in types]}
    if len(out["type"]) == 1:
        out["type"] = out["type"][0]
    if "list" in types and items:
        out["items"] = _types_schema(items, None)
    if "float" in types:
        out = {"anyOf": [out, FLOAT_STRING]}
    return out


def key_schema(key: Key, with_defaults: bool) -> dict:
    """JSON Schema of one key."""
    out = _types_schema(key.types, key.items)
    if key.choices is not None:
        out = {"enum": list(dict.fromkeys(key.choices))}
    if key.minimum is not None:
        out["minimum"] = key.minimum
    if key.maximum is not None:
        out["maximum"] = key.maximum
    if key.doc:
        out["description"] = key.doc
    if with_defaults and key.insert is True and _jsonable(key.default):
        out["default"] = key.default
    return out


def node_schema(node: Node, with_defaults: bool = True) -> dict:
    """JSON Schema of a key, section or map; ``with_defaults=False`` omits ``default``s."""
    if isinstance(node, Key):
        return key_schema(node, with_defaults)
    if isinstance(node, MapOf):
        out: dict[str, Any] = {
            "type": ["object", "null"] if node.nullable else "object",
            "additionalProperties": node_schema(node.value, with_defaults),
        }
        if node.name_pattern:
            out["propertyNames"] = {"pattern": f"^(?:{node.name_pattern})$"}
        if node.doc:
            out["description"] = node.doc
        return out
    props = {k: node_schema(v, with_defaults) for k, v in node.keys.items()}
    for legacy, canon in node.aliases.items():
        props[legacy] = dict(props[canon], description=f"legacy alias of {canon}")
    out = {
        "type": ["object", "null"] if node.nullable or node.null_as is not None else "object",
        "properties": props,
        "additionalProperties": node.open,
    }
    if node.doc:
        out["description"] = node.doc
    return out


def section_schema(section: Section, with_defaults: bool = True) -> dict:
    """JSON Schema of a section (alias of ``node_schema`` with a narrower type)."""
    return node_schema(section, with_defaults)


def dreem_json_schema() -> dict:
    """JSON Schema of a DREEM config (structure and types; cross-key checks are Python-only)."""
    from dreem.config.schema import DREEM_SCHEMA

    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **node_schema(DREEM_SCHEMA)}
