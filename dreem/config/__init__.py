"""DREEM configs: load (defaults < file < params_config < overrides), validate, save, describe.

``load_dreem_config`` returns a plain nested dict in which every documented key is present
(sections that are off by default, e.g. ``early_stopping``, are ``None``). Errors are
``dreem.utils.errors.ConfigError`` naming the file and the full key path.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from dreem.config.nodes import Key, MapOf, Node, Section
from dreem.config.schema import DREEM_SCHEMA
from dreem.config.validate import default_of, raise_errors, validate_dreem
from dreem.utils.errors import ConfigError

__all__ = [
    "default_dreem_config",
    "load_dreem_config",
    "save_config",
    "describe_config",
    "parse_overrides",
    "deep_merge",
    "read_yaml",
    "extra_kwargs",
    "schema_node",
]


def default_dreem_config() -> dict:
    """The fully defaulted DREEM config (a fresh copy)."""
    return validate_dreem({})


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; errors name the file (empty file → ``{}``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror or err}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
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


def parse_overrides(overrides: Mapping | Sequence[str] | None) -> dict:
    """Nested dict from ``{"a": {"b": 1}}`` or ``["a.b=1", ...]`` (values parsed as YAML).

    A leading ``+`` (Hydra style) is ignored. A malformed item raises ``ConfigError`` naming it.
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
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {err}") from err
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = node[p] = {}
            node = nxt
        node[parts[-1]] = value
    return out


def _resolve_params_config(value: Any, base_dir: Path | None) -> Path:
    p = Path(str(value)).expanduser()
    if not p.is_absolute() and not p.exists() and base_dir is not None:
        alt = base_dir / p
        if alt.exists():
            return alt
    return p


def load_dreem_config(
    source: str | Path | Mapping,
    overrides: Mapping | Sequence[str] | None = None,
) -> dict:
    """Load, merge and validate a DREEM config; return it fully defaulted.

    Precedence: schema defaults < ``source`` (a YAML path or a dict) < the YAML named by its
    ``params_config`` key (path relative to the working directory, else to the config file) <
    ``overrides`` (nested dict or ``"a.b.c=value"`` strings).
    """
    base_dir = None
    if isinstance(source, Mapping):
        user = copy.deepcopy(dict(source))
        label = None
    else:
        user = read_yaml(source)
        label = str(source)
        base_dir = Path(source).parent
    over = parse_overrides(overrides)
    params = over.get("params_config", user.get("params_config"))
    if params:
        if not isinstance(params, str | Path):
            raise_errors([f"params_config: expected str, got {params!r}"], label)
        ppath = _resolve_params_config(params, base_dir)
        user = deep_merge(user, read_yaml(ppath))
        user["params_config"] = str(ppath)
    user = deep_merge(user, over)
    return validate_dreem(user, label)


def save_config(cfg: Mapping, path: str | Path) -> Path:
    """Write ``cfg`` as YAML atomically (key order kept); return the path."""
    from dreem.utils.atomic import write_text_atomic

    text = yaml.safe_dump(_plain(cfg), sort_keys=False, default_flow_style=False)
    return write_text_atomic(path, text)


def _plain(v: Any) -> Any:
    """Convert tuples/Paths to YAML-safe plain types."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


def schema_node(path: str) -> Node:
    """The schema node at a dotted path (e.g. ``model.encoder_cfg``); ``KeyError`` if none."""
    node: Node = DREEM_SCHEMA
    for part in path.split(".") if path else []:
        if isinstance(node, Section):
            node = node.keys[part]
        elif isinstance(node, MapOf):
            node = node.value
        else:
            raise KeyError(path)
    return node


def extra_kwargs(section: Mapping, path: str) -> dict:
    """Keys of ``section`` that the schema at ``path`` does not declare (pass-through kwargs).

    E.g. ``extra_kwargs(cfg["model"]["encoder_cfg"], "model.encoder_cfg")`` → extra timm args.
    """
    node = schema_node(path)
    if not isinstance(node, Section):
        raise KeyError(f"{path} is not a section")
    return {k: copy.deepcopy(v) for k, v in section.items() if k not in node.keys}


def describe_config(path: str = "") -> str:
    """Human-readable list of keys under ``path``: ``key (types) = default  doc``."""
    lines: list[str] = []

    def walk(node: Node, p: str, depth: int) -> None:
        pad = "  " * depth
        if isinstance(node, Key):
            types = "|".join(node.types)
            extra = f" one of {[c for c in node.choices]}" if node.choices else ""
            lines.append(
                f"{pad}{p.rsplit('.', 1)[-1]} ({types}) = {node.default!r}  {node.doc}{extra}"
            )
            return
        name = p.rsplit(".", 1)[-1] if p else "config"
        flags = []
        if isinstance(node, Section):
            flags += ["open"] * node.open + ["nullable"] * node.nullable
            flags += ["default null"] * node.default_null
        elif isinstance(node, MapOf):
            flags.append("map name -> value")
        suffix = f" [{', '.join(flags)}]" if flags else ""
        lines.append(f"{pad}{name}:{suffix}  {node.doc}")
        if isinstance(node, Section):
            for k, sub in node.keys.items():
                walk(sub, f"{p}.{k}" if p else k, depth + 1)
        elif isinstance(node, MapOf):
            walk(node.value, f"{p}.<name>" if p else "<name>", depth + 1)

    walk(schema_node(path), path, 0)
    return "\n".join(lines)


# Keep default_of importable from here for consumers that want one section's defaults.
def section_defaults(path: str) -> Any:
    """Defaults of the section/key at a dotted path (e.g. ``tracker``)."""
    return default_of(schema_node(path))
