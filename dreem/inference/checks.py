"""Checks of the track stage: the result's integrity and the model/data crop match.

:func:`check_tracks` runs on every tracks table before anything is written: every shard
instance appears exactly once (none lost, none invented or duplicated), every id is
``>= 0`` (``-1`` only where a frame holds more instances than ``max_tracks`` ids), and no
id is used twice in one frame. A violation raises :class:`IntegrityError`.

:func:`crop_mismatch` says when a shard's crops differ from the ones a checkpoint was
trained on (the model then sees other image statistics than in training, and identity
accuracy drops without any error).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from dreem.config.dreem import DreemConfig
from dreem.io.shards import ShardData, ShardMeta
from dreem.utils.errors import IntegrityError

log = logging.getLogger(__name__)

_SHOW = 5  # examples listed per problem


def _counts(frames: np.ndarray, insts: np.ndarray) -> pd.Series:
    """How often each (frame, instance) occurs."""
    return pd.DataFrame({"frame": np.asarray(frames), "inst": np.asarray(insts)}).value_counts()


def _examples(index) -> str:
    items = [f"(frame {int(f)}, instance {int(i)})" for f, i in list(index)[:_SHOW]]
    more = len(index) - len(items)
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def check_tracks(
    data: ShardData, table: pd.DataFrame, max_tracks: float, shard: Path | str
) -> None:
    """Raise :class:`IntegrityError` unless ``table`` tracks every instance of ``data``
    exactly once with a valid id (see module docstring)."""
    problems = []
    if len(table) != len(data):
        problems.append(f"{len(data)} instances in, {len(table)} out")
    want = _counts(data.frame_idx, data.instance_idx)
    got = _counts(table.frame_idx.to_numpy(), table.instance_idx.to_numpy())
    lost = want.index.difference(got.index)
    invented = got.index.difference(want.index)
    common = want.index.intersection(got.index)
    twice = common[(got[common] != 1).to_numpy() | (want[common] != 1).to_numpy()]
    if len(lost):
        problems.append(f"{len(lost)} instance(s) lost: {_examples(lost)}")
    if len(invented):
        problems.append(f"{len(invented)} instance(s) not in the shard: {_examples(invented)}")
    if len(twice):
        problems.append(f"{len(twice)} instance(s) not exactly once: {_examples(twice)}")
    ids = table.track_id.to_numpy()
    frames = table.frame_idx.to_numpy()
    if (ids < -1).any():
        problems.append(f"negative track id(s) {sorted(set(ids[ids < -1].tolist()))[:_SHOW]}")
    # -1 = unassigned: only for instances beyond max_tracks in a crowded frame
    per_frame = pd.DataFrame({"frame": frames, "none": ids == -1}).groupby("frame").none
    spare = per_frame.size() - max_tracks if math.isfinite(max_tracks) else 0
    over = per_frame.sum()[per_frame.sum() > np.maximum(spare, 0)]
    if len(over):
        shown = ", ".join(str(int(f)) for f in over.index[:_SHOW])
        problems.append(
            f"{int(over.sum())} instance(s) without a track id in frame(s) {shown} "
            f"(allowed only beyond max_tracks={max_tracks})"
        )
    assigned = table.loc[ids >= 0, ["frame_idx", "track_id"]]
    dup = assigned[assigned.duplicated(keep=False)].drop_duplicates()
    if len(dup):
        shown = ", ".join(f"id {int(t)} in frame {int(f)}" for f, t in dup.to_numpy()[:_SHOW])
        problems.append(f"a track id given twice in one frame: {shown}")
    if problems:
        raise IntegrityError(
            f"{shard}: the tracking result failed its integrity check (nothing written; "
            "a bug in dreem, please report it): " + "; ".join(problems)
        )


def _crop_values(cfg: DreemConfig) -> dict[str, object]:
    from dreem.data.geometry import normalize_anchors

    section = cfg.dataset.train_dataset
    sizes = section.crop_size if isinstance(section.crop_size, list) else [section.crop_size]
    return {
        "crop_size": [int(s) for s in sizes],
        "padding": int(section.padding),
        "anchors": normalize_anchors(section.anchors),
    }


def crop_mismatch(model_cfg: DreemConfig, meta: ShardMeta) -> dict[str, tuple[object, object]]:
    """Crop keys where a shard differs from the model's training crops:
    ``{key: (shard value, trained value)}`` (empty when they match)."""
    trained = _crop_values(model_cfg)
    params = meta.params or {}
    out: dict[str, tuple[object, object]] = {}
    size = params.get("crop_size")
    if size is not None and int(size) not in trained["crop_size"]:
        shown = trained["crop_size"][0] if len(trained["crop_size"]) == 1 else trained["crop_size"]
        out["crop_size"] = (int(size), shown)
    for key in ("padding", "anchors"):
        if key in params and params[key] != trained[key]:
            out[key] = (params[key], trained[key])
    return out


def warn_crop_mismatch(model_cfg: DreemConfig, meta: ShardMeta, shard: Path | str, model) -> bool:
    """Log a warning naming the shard, the model and both values when the crops differ;
    return True if they do."""
    differ = crop_mismatch(model_cfg, meta)
    if not differ:
        return False
    shown = ", ".join(f"{k} {v!r} (trained: {t!r})" for k, (v, t) in differ.items())
    log.warning(
        "%s: its crops differ from the ones model %s was trained on: %s; identities are "
        "usually lost with other crops — re-extract with the model's crop settings (`dreem "
        "track MODEL DIR` on the data folder does)",
        shard,
        model,
        shown,
    )
    return True
