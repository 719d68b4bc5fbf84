"""Validate a nested config dict against a schema tree; collect every error with its key path.

``check`` validates and normalises (type coercion, legacy aliases, ``null`` meanings) without
adding defaults; ``fill_defaults`` adds every missing key; ``validate_dreem`` does both for a
DREEM config plus the cross-key checks, raising one ``ConfigError`` that lists all problems.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import numbers
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from dreem.config import schema as S
from dreem.config.nodes import Key, MapOf, Node, Section
from dreem.utils.errors import ConfigError, ConfigWarning

_INVALID = object()  # marks a value that failed validation (dropped, so defaults apply)
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?\.?(inf|nan)$", re.I)


# ----------------------------------------------------------------------------- helpers
def join(path: str, key: Any) -> str:
    """Extend a dotted key path (``a.b`` + ``c`` → ``a.b.c``; ints become ``[i]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def suggest(word: Any, candidates: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    cands = [str(c) for c in candidates if c is not None and str(c)]
    word = str(word)
    for c in cands:
        if c.lower() == word.lower():
            return f"; did you mean '{c}'?"
    best = difflib.get_close_matches(word, cands, n=1, cutoff=0.6)
    return f"; did you mean '{best[0]}'?" if best else ""


def _show_choice(c: Any) -> str:
    if c is None:
        return "None"
    if isinstance(c, str):
        return c if c else "''"
    return repr(c)


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse True with 1."""
    return type(a) is type(b) and a == b or (a is None and b is None)


def _typename(v: Any) -> str:
    return {
        bool: "bool",
        int: "int",
        float: "float",
        str: "str",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }.get(type(v), type(v).__name__)


def _parse_float(v: str) -> float | None:
    """A float from a YAML 1.1 string such as ``'1e-8'`` or ``'.inf'``; None if not numeric."""
    s = v.strip()
    if not _FLOAT_RE.match(s):
        return None
    try:
        return float(s.replace(".inf", "inf").replace(".INF", "inf").replace(".Inf", "inf"))
    except ValueError:
        return None


def _same_value(v: Any) -> Any:
    return v


def _exact(v: Any, t: str) -> bool:
    return {
        "null": v is None,
        "bool": isinstance(v, bool),
        "int": isinstance(v, int) and not isinstance(v, bool),
        "float": isinstance(v, float),
        "str": isinstance(v, str),
        "list": isinstance(v, list),
        "dict": isinstance(v, dict),
    }[t]


def _coerce_scalar(v: Any, types: tuple[str, ...], path: str, errors: list[str]) -> Any:
    """Return ``v`` as one of ``types`` (exact match first, then safe coercions)."""
    for t in types:
        if _exact(v, t):
            return {"int": int, "float": float, "str": str}.get(t, _same_value)(v)
    if isinstance(v, bool):
        pass
    elif "int" in types and isinstance(v, numbers.Integral):  # e.g. numpy.int64
        return int(v)
    elif "float" in types and isinstance(v, numbers.Real):
        return float(v)
    if "float" in types and isinstance(v, str) and (f := _parse_float(v)) is not None:
        return f
    if "list" in types and isinstance(v, tuple):
        return list(v)
    if "dict" in types and isinstance(v, Mapping):
        return dict(v)
    if "str" in types and isinstance(v, os.PathLike):
        return os.fspath(v)
    want = " or ".join("null" if t == "null" else t for t in types)
    errors.append(f"{path}: expected {want}, got {_typename(v)} {v!r}")
    return _INVALID


def _check_range(key: Key, v: Any, path: str, errors: list[str]) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        return True
    if key.minimum is not None and v < key.minimum:
        errors.append(f"{path}: {v!r} is below the minimum {key.minimum:g}")
        return False
    if key.maximum is not None and v > key.maximum:
        errors.append(f"{path}: {v!r} is above the maximum {key.maximum:g}")
        return False
    return True


def check_key(key: Key, value: Any, path: str, errors: list[str]) -> Any:
    """Validate one leaf value; return the normalised value or ``_INVALID``."""
    v = _coerce_scalar(value, key.types, path, errors)
    if v is _INVALID:
        return v
    if isinstance(v, list):
        out = []
        for i, item in enumerate(v):
            if key.items is not None:
                item = _coerce_scalar(item, key.items, join(path, i), errors)
                if item is _INVALID or not _check_range(key, item, join(path, i), errors):
                    return _INVALID
            out.append(item)
        v = out
    elif not _check_range(key, v, path, errors):
        return _INVALID
    if key.choices is not None and not isinstance(v, list):
        if not any(_same(v, c) for c in key.choices):
            shown = list(dict.fromkeys(_show_choice(c) for c in key.choices))
            errors.append(f"{path}: {v!r} is not one of {', '.join(shown)}{suggest(v, shown)}")
            return _INVALID
    if key.value_aliases:
        for src, dst in key.value_aliases.items():
            if _same(v, src):
                return copy.deepcopy(dst)
    return v


def check(node: Node, value: Any, path: str, errors: list[str]) -> Any:
    """Validate ``value`` against ``node`` (no defaults added); invalid parts → ``_INVALID``."""
    if isinstance(node, Key):
        return check_key(node, value, path, errors)
    label = path or "config"
    if value is None:
        if isinstance(node, Section) and node.null_as is not None:
            return check(node, copy.deepcopy(dict(node.null_as)), path, errors)
        if node.nullable:
            return None
        errors.append(f"{label}: expected a mapping, got null")
        return _INVALID
    if not isinstance(value, Mapping):
        errors.append(f"{label}: expected a mapping, got {_typename(value)} {value!r}")
        return _INVALID
    value = {str(k): v for k, v in value.items()}
    if isinstance(node, MapOf):
        return _check_map(node, value, path, errors)
    for legacy, canon in node.aliases.items():
        if legacy in value:
            if canon in value:
                errors.append(
                    f"{join(path, legacy)}: give either '{legacy}' (legacy) or '{canon}', not both"
                )
            value[canon] = value.pop(legacy)
    out: dict[str, Any] = {}
    for k, v in value.items():
        sub = node.keys.get(k)
        if sub is None:
            if node.open:
                out[k] = v
            else:
                errors.append(f"{join(path, k)}: unknown key{suggest(k, node.keys)}")
            continue
        if v is None and not _accepts_null(sub):
            continue  # a blank/null value means "use the default" (reference behaviour)
        r = check(sub, v, join(path, k), errors)
        if r is not _INVALID:
            out[k] = r
    return out


def _accepts_null(node: Node) -> bool:
    if isinstance(node, Section):
        return node.nullable or node.null_as is not None
    return node.nullable


def _check_map(node: MapOf, value: dict, path: str, errors: list[str]) -> dict:
    out = {}
    for name, v in value.items():
        if node.name_pattern and not re.fullmatch(node.name_pattern, name):
            errors.append(f"{join(path, name)}: name {name!r} must match {node.name_pattern}")
            continue
        r = check(node.value, v, join(path, name), errors)
        if r is not _INVALID:
            out[name] = r
    return out


# ----------------------------------------------------------------------------- defaults
def default_of(node: Node) -> Any:
    """The default value of a node (sections fully defaulted)."""
    if isinstance(node, Key):
        return copy.deepcopy(node.default)
    if isinstance(node, MapOf):
        return copy.deepcopy(dict(node.default)) if node.default is not None else None
    return None if node.default_null else fill_defaults(node, {})


def fill_defaults(node: Node, value: Any) -> Any:
    """Return ``value`` with every missing key of ``node`` set to its default."""
    if isinstance(node, Key) or value is None:
        return value
    if isinstance(node, MapOf):
        return {k: fill_defaults(node.value, v) for k, v in value.items()}
    name_key = node.keys.get("name")
    name = value.get("name", name_key.default if isinstance(name_key, Key) else None)
    out: dict[str, Any] = {}
    for k, sub in node.keys.items():
        if k in value:
            out[k] = fill_defaults(sub, value[k])
        elif isinstance(sub, Key):
            if sub.insert is True or (isinstance(sub.insert, str) and name == sub.insert):
                out[k] = default_of(sub)
        else:
            out[k] = default_of(sub)
    for k, v in value.items():
        if k not in node.keys:
            out[k] = v
    return out


# ----------------------------------------------------------------------------- DREEM
@functools.lru_cache(maxsize=1)
def motmetrics_names() -> tuple[str, ...]:
    """Metric names known to the installed py-motmetrics (static list if not importable)."""
    try:
        import motmetrics as mm

        names = mm.metrics.create().names
        return tuple(names) if names else S.MOTMETRICS_NAMES
    except Exception:  # noqa: BLE001 - any import/runtime problem → static list
        return S.MOTMETRICS_NAMES


def normalise_metrics(value: Any, path: str, errors: list[str]) -> list[str]:
    """A metric list from a name or list; legacy aliases mapped; unknown names reported."""
    names = [value] if isinstance(value, str) else list(value or [])
    out = []
    for i, name in enumerate(names):
        name = S.METRIC_ALIASES.get(name, name)
        if name not in S.METRIC_GROUPS and name not in S.MOTMETRICS_NAMES:
            known = motmetrics_names()
            if name not in known:
                where = join(path, i) if not isinstance(value, str) else path
                errors.append(
                    f"{where}: unknown metric {name!r}{suggest(name, known + S.METRIC_GROUPS)}"
                )
                continue
        out.append(name)
    return out


def _cross_check(cfg: dict, errors: list[str]) -> None:
    """Checks that involve more than one key (run on the defaulted config)."""
    model = cfg["model"]
    pos = model["embedding_meta"]["pos"]
    p = "model.embedding_meta.pos"
    if pos["mode"] != "off" and pos["n_points"] > 1 and pos["mlp_cfg"] is None:
        errors.append(f"{p}.mlp_cfg: required when n_points > 1 (n_points is {pos['n_points']})")
    if pos["mode"] == "fixed" and pos["scale"] is not None and not pos["normalize"]:
        errors.append(f"{p}.scale: only used with normalize: true")
    if model["d_model"] % model["nhead"]:
        errors.append(
            f"model.nhead: d_model {model['d_model']} is not divisible by nhead {model['nhead']}"
        )

    for split in ("train", "val", "test"):
        path = f"runner.metrics.{split}"
        cfg["runner"]["metrics"][split] = normalise_metrics(
            cfg["runner"]["metrics"][split], path, errors
        )
    if cfg["metrics"] is not None:
        cfg["metrics"]["test"] = normalise_metrics(cfg["metrics"]["test"], "metrics.test", errors)
    if isinstance(cfg["checkpointing"]["monitor"], str):
        cfg["checkpointing"]["monitor"] = [cfg["checkpointing"]["monitor"]]
    for side in ("front_nodes", "back_nodes"):
        if isinstance(cfg["tracker"][side], str):
            cfg["tracker"][side] = [cfg["tracker"][side]]

    _check_scheduler(cfg["scheduler"], errors)
    opt = cfg["optimizer"]
    if isinstance(opt.get("betas"), list) and len(opt["betas"]) != 2:
        errors.append(f"optimizer.betas: expected 2 values, got {len(opt['betas'])}")

    for split, dl in cfg["dataloader"].items():
        _check_dataloader(dl, f"dataloader.{split}", errors)
    for split, ds in cfg["dataset"].items():
        if ds is not None:
            check_dataset_spec(ds, f"dataset.{split}", errors)

    tr = cfg["trainer"]
    if (
        tr["min_epochs"] is not None
        and tr["max_epochs"] not in (None, -1)
        and tr["min_epochs"] > tr["max_epochs"]
    ):
        errors.append(
            f"trainer.min_epochs: {tr['min_epochs']} exceeds max_epochs {tr['max_epochs']}"
        )


def _check_scheduler(sch: dict | None, errors: list[str]) -> None:
    if sch is None or not isinstance(sch["name"], list):
        return
    n = len(sch["name"])
    ms = sch.get("milestones")
    if n < 2:
        errors.append("scheduler.name: a list needs at least 2 scheduler names")
    elif not isinstance(ms, list) or len(ms) != n - 1:
        errors.append(
            f"scheduler.milestones: a list of {n - 1} epoch(s) is required when "
            f"scheduler.name lists {n} schedulers"
        )


_LOADER_FIXED = ("batch_size", "collate_fn", "sampler", "batch_sampler")


def _check_dataloader(dl: dict, path: str, errors: list[str]) -> None:
    for k in _LOADER_FIXED:
        if k in dl and not (k == "batch_size" and dl[k] == 1):
            errors.append(f"{join(path, k)}: set by dreem (one clip per batch); remove it")
    workers = dl.get("num_workers", 0)
    if dl.get("persistent_workers") and not workers:
        errors.append(f"{path}.persistent_workers: needs num_workers > 0")
    if dl.get("prefetch_factor") is not None and not workers:
        errors.append(f"{path}.prefetch_factor: needs num_workers > 0")


def check_dataset_spec(ds: Mapping, path: str, errors: list[str]) -> None:
    """Cross-key checks of one dataset section (defaulted or partial)."""
    anchors = ds.get("anchors")
    if anchors is not None and (anchors == [] or anchors == 0 or anchors == ""):
        errors.append(f"{path}.anchors: must name at least one node (or be a count > 0)")
    dir_path = (ds.get("dir") or {}).get("path")
    for key in ("crop_size", "dilation_radius_px"):
        val = ds.get(key)
        if isinstance(val, list):
            if not isinstance(dir_path, list):
                errors.append(
                    f"{path}.{key}: a list needs dir.path to be a list of the same length"
                )
            elif len(val) != len(dir_path):
                errors.append(
                    f"{path}.{key}: {len(val)} values for {len(dir_path)} dir.path entries"
                )
    n_chunks = ds.get("n_chunks")
    if isinstance(n_chunks, float) and n_chunks > 1 and not n_chunks.is_integer():
        errors.append(f"{path}.n_chunks: {n_chunks} is neither a fraction in (0, 1] nor a count")
    for pattern, (allowed, reason) in S.UNSUPPORTED.items():
        key = pattern[len(DATASET_PREFIX) :]
        if pattern.startswith(DATASET_PREFIX) and key in ds:
            _unsupported(f"{path}.{key}", ds[key], allowed, reason, errors)


def raise_errors(errors: list[str], source: str | None = None) -> None:
    """Raise one ``ConfigError`` listing ``errors`` (one per line), if any."""
    if not errors:
        return
    head = f"{source}: " if source else ""
    n = len(errors)
    msg = f"{head}invalid config ({n} problem{'s' if n > 1 else ''}):\n" + "\n".join(
        f"  {e}" for e in errors
    )
    err = ConfigError(msg)
    err.errors = list(errors)  # type: ignore[attr-defined]
    raise err


def validate_dreem(cfg: Any, source: str | None = None) -> dict:
    """Validate a DREEM config dict and return it fully defaulted (raises ``ConfigError``)."""
    errors: list[str] = []
    checked = check(S.DREEM_SCHEMA, {} if cfg is None else cfg, "", errors)
    if checked is _INVALID:
        raise_errors(errors, source)
    full = fill_defaults(S.DREEM_SCHEMA, checked)
    _cross_check(full, errors)
    check_unsupported(full, errors)
    raise_errors(errors, source)
    return full


def check_unsupported(cfg: Mapping, errors: list[str]) -> None:
    """Errors for keys set to values dreem-pipeline cannot honour (``schema.UNSUPPORTED``)."""
    for pattern, (allowed, reason) in S.UNSUPPORTED.items():
        if pattern.startswith(DATASET_PREFIX):  # checked by check_dataset_spec
            continue
        nodes: list[tuple[str, Any]] = [("", cfg)]
        for part in pattern.split("."):
            nxt = []
            for path, node in nodes:
                if not isinstance(node, Mapping):
                    continue
                keys = list(node) if part == "*" else [part] if part in node else []
                nxt += [(join(path, k), node[k]) for k in keys]
            nodes = nxt
        for path, value in nodes:
            _unsupported(path, value, allowed, reason, errors)


DATASET_PREFIX = "dataset.*."


def _unsupported(path: str, value: Any, allowed: tuple, reason: str, errors: list[str]) -> None:
    if not any(_same(value, a) for a in allowed):
        # A warning, not an error: existing DREEM configs (which may set these keys, several
        # of them ignored by the reference too) must still load unchanged.
        warnings.warn(
            f"{path}: {value!r} is not supported by dreem-pipeline and has no effect ({reason})",
            ConfigWarning,
            stacklevel=2,
        )
