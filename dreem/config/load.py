"""Load a DREEM config: defaults < file < ``params_config`` file < overrides, validated once.

Legacy spellings the reference tolerates load with a :class:`ConfigWarning` naming the key;
every problem is reported in one :class:`ConfigError`, one ``key.path: message`` line each.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dreem.config.checks import cross_errors, name_errors, warn_unsupported
from dreem.config.dreem import DreemConfig
from dreem.config.errors import messages, raise_errors
from dreem.config.yaml_io import deep_merge, drop_blanks, parse_overrides, plain, read_yaml
from dreem.utils.errors import ConfigWarning

# legacy key -> canonical key, per section path (the reference code reads the legacy name).
LEGACY_KEYS: dict[str, dict[str, str]] = {
    "model.embedding_meta.pos.mlp_cfg": {"hidden_dim": "hidden_dims"},
}


def _section(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def apply_legacy(data: dict, errors: list[str]) -> dict:
    """Rewrite legacy keys (with a warning naming each) in raw config data."""
    for path, renames in LEGACY_KEYS.items():
        section = _section(data, path)
        if not isinstance(section, dict):
            continue
        for old, new in renames.items():
            if old not in section:
                continue
            if new in section:
                errors.append(f"{path}.{old}: give either '{old}' (legacy) or '{new}', not both")
                del section[old]
                continue
            warnings.warn(f"{path}.{old}: legacy key, read as '{new}'", ConfigWarning, stacklevel=3)
            section[new] = section.pop(old)
    tracker = data.get("tracker")
    if isinstance(tracker, dict) and isinstance(tracker.get("persistent_tracking"), dict):
        legacy = tracker["persistent_tracking"]
        warnings.warn(
            "tracker.persistent_tracking: a {train, val, test} mapping is legacy; its 'test' "
            "value is used",
            ConfigWarning,
            stacklevel=3,
        )
        tracker["persistent_tracking"] = legacy.get("test", True)
    return data


def validate_dreem(data: Any, source: str | None = None, check_names: bool = False) -> DreemConfig:
    """Validate raw config data (already merged) into a :class:`DreemConfig`."""
    errors: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise_errors([f"config: expected a mapping, got {type(data).__name__}"], source)
    data = apply_legacy(plain(drop_blanks(copy.deepcopy(dict(data)))), errors)
    try:
        cfg = DreemConfig.model_validate(data)
    except ValidationError as err:
        raise_errors(errors + messages(err, DreemConfig), source)
    errors += cross_errors(cfg)
    if check_names and not errors:
        errors += name_errors(cfg)
    raise_errors(errors, source)
    warn_unsupported(cfg)
    return cfg


def _resolve_params_config(value: str, base_dir: Path | None) -> Path:
    p = Path(value).expanduser()
    if not p.is_absolute() and not p.exists() and base_dir is not None:
        alt = base_dir / p
        if alt.exists():
            return alt
    return p


def load_dreem_config(
    source: str | Path | Mapping | DreemConfig,
    overrides: Mapping | Sequence[str] | None = None,
    check_names: bool = False,
) -> DreemConfig:
    """Load, merge and validate a DREEM config.

    Precedence: defaults < ``source`` (a YAML path, a dict or a config) < the YAML named by
    its ``params_config`` key (relative to the working directory, else to the config file)
    < ``overrides`` (nested dict or ``"a.b.c=value"`` strings). ``check_names`` also checks
    optimizer, scheduler, augmentation and backbone names against the installed libraries.
    """
    base_dir = None
    label = None
    if isinstance(source, DreemConfig):
        user = source.to_dict()
    elif isinstance(source, Mapping):
        user = copy.deepcopy(dict(source))
    else:
        user = read_yaml(source)
        label = str(source)
        base_dir = Path(source).parent
    over = parse_overrides(overrides)
    params = over.get("params_config", user.get("params_config"))
    if params and not (isinstance(source, DreemConfig) and not over.get("params_config")):
        if not isinstance(params, str | Path):
            raise_errors([f"params_config: expected a path, got {params!r}"], label)
        ppath = _resolve_params_config(str(params), base_dir)
        user = deep_merge(user, read_yaml(ppath))
        user["params_config"] = str(ppath)
    return validate_dreem(deep_merge(user, over), label, check_names=check_names)


def default_dreem_config() -> DreemConfig:
    """The fully defaulted DREEM config (a fresh object)."""
    return DreemConfig()


def save_config(cfg: DreemConfig | Mapping, path: str | Path) -> Path:
    """Write a config as YAML atomically (key order kept); return the path."""
    from dreem.config.yaml_io import dump_yaml
    from dreem.utils.atomic import write_text_atomic

    data = cfg.to_dict() if isinstance(cfg, DreemConfig) else dict(cfg)
    return write_text_atomic(path, dump_yaml(data))
