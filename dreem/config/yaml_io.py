"""Reading config YAML strictly: duplicate keys are errors, blank values mean "the default".

The DREEM config reference says: *leave a field blank (or leave the key out) for the default;
``null`` means None, which turns a feature off*. YAML loads both as ``None``, so the node
tree is walked before construction: blank values are dropped (the key takes its default),
explicit ``null`` is kept (validation then accepts it where it means "off" and names the key
where it does not).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from dreem.utils.errors import ConfigError

Path_ = tuple[Any, ...]


def _walk(node: yaml.Node, path: Path_, blanks: list[Path_], dups: list[str]) -> None:
    """Record blank values (paths) and duplicate keys (messages) under ``node``."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                where = ".".join(str(p) for p in (*path, key))
                dups.append(
                    f"line {line}: {where}: duplicate key (first given on line {seen[key]}; "
                    "YAML would silently keep only the last value)"
                )
            seen[key] = line
            if (
                isinstance(value_node, yaml.ScalarNode)
                and value_node.tag == "tag:yaml.org,2002:null"
                and value_node.value == ""
            ):
                blanks.append((*path, key))
            _walk(value_node, (*path, key), blanks, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), blanks, dups)


def _drop(data: Any, path: Path_) -> None:
    for part in path[:-1]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return
    if isinstance(data, dict):
        data.pop(path[-1], None)


def load_yaml_text(text: str, source: str = "<string>") -> Any:
    """Parse YAML text: duplicate keys raise ``ConfigError``; blank mapping values vanish."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: invalid YAML: {err}") from err
    if root is None:
        return None
    blanks: list[Path_] = []
    dups: list[str] = []
    _walk(root, (), blanks, dups)
    if dups:
        raise ConfigError("\n".join(f"{source}: {d}" for d in dups))
    for path in sorted(blanks, key=len, reverse=True):
        _drop(data, path)
    return data


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping strictly (see module docstring); an empty file is ``{}``."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror or err}") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not a text file (byte {err.start} is not UTF-8); expected a YAML config"
        ) from err
    if "\x00" in text:
        raise ConfigError(f"{path}: not a text file (contains NUL bytes); expected a YAML config")
    data = load_yaml_text(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def deep_merge(base: Mapping, over: Mapping) -> dict:
    """``base`` updated by ``over``, recursing into mappings (lists and scalars replace)."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_overrides(overrides: Mapping | Sequence[str] | str | None) -> dict:
    """Nested dict from ``{"a": {"b": 1}}`` or ``["a.b=1", ...]`` (values parsed as YAML).

    A leading ``+`` (Hydra style) is ignored; ``a.b=`` (blank) removes ``a.b`` so it takes
    its default. A malformed item raises ``ConfigError`` naming it.
    """
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return copy.deepcopy(dict(overrides))
    if isinstance(overrides, str):
        overrides = [overrides]
    out: dict = {}
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"override {item!r}: expected 'section.key=value'")
        dotted, raw = item.split("=", 1)
        dotted = dotted.strip().lstrip("+")
        parts = dotted.split(".")
        if not dotted or any(not p for p in parts):
            raise ConfigError(f"override {item!r}: bad key path {dotted!r}")
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = node[p] = {}
            node = nxt
        if not raw.strip():
            node[parts[-1]] = BLANK
            continue
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {err}") from err
    return out


class _Blank:
    """Marks an override ``a.b=`` (blank): the key is removed and takes its default."""

    def __repr__(self) -> str:
        return "BLANK"

    def __copy__(self) -> _Blank:
        return self

    def __deepcopy__(self, memo: dict) -> _Blank:
        return self


BLANK = _Blank()


def drop_blanks(data: Any) -> Any:
    """Remove :data:`BLANK` values (recursively) from merged config data."""
    if isinstance(data, dict):
        return {k: drop_blanks(v) for k, v in data.items() if v is not BLANK}
    if isinstance(data, list):
        return [drop_blanks(v) for v in data]
    return data


def plain(value: Any) -> Any:
    """Tuples/Paths/numpy scalars → YAML-safe plain types."""
    import os

    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def dump_yaml(data: Mapping) -> str:
    """YAML text of a config dict (key order kept)."""
    return yaml.safe_dump(plain(data), sort_keys=False, default_flow_style=False)
