"""Typed configs: the DREEM training config and the pipeline config.

``load_dreem_config`` returns a :class:`DreemConfig` (pydantic) with every documented key;
components take its sections (``cfg.model``, ``cfg.tracker``, ...) and hold no defaults of
their own. Errors are one :class:`dreem.utils.errors.ConfigError` naming the file and the
full key path of every problem (``model.embedding_meta.pos.mode: 'fixd' is not one of
fixed, learned, off, None; did you mean 'fixed'?``).
"""

from __future__ import annotations

from typing import Any

from dreem.config.data import CropParams, DatasetSection, crop_params
from dreem.config.dreem import DreemConfig
from dreem.config.load import default_dreem_config, load_dreem_config, save_config
from dreem.config.model import ModelConfig
from dreem.config.pipeline import PipelineConfig, load_pipeline_config
from dreem.config.tracker import TrackerConfig
from dreem.config.yaml_io import deep_merge, parse_overrides, read_yaml

__all__ = [
    "CropParams",
    "DatasetSection",
    "DreemConfig",
    "ModelConfig",
    "PipelineConfig",
    "TrackerConfig",
    "crop_params",
    "deep_merge",
    "default_dreem_config",
    "describe_config",
    "load_dreem_config",
    "load_pipeline_config",
    "parse_overrides",
    "read_yaml",
    "save_config",
]


def describe_config(path: str = "") -> str:
    """Human-readable list of keys under ``path``: ``key (type) = default  doc``."""
    from dreem.config.describe import describe

    return describe(path)


def __getattr__(name: str) -> Any:  # pragma: no cover - guidance for removed names
    raise AttributeError(f"module 'dreem.config' has no attribute {name!r}")
