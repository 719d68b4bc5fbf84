"""Validation tracking metrics: run the real tracker on val clips, score with motmetrics.

Features are computed once per validation step (the same ones the loss uses); at epoch end
each group (a whole video with ``runner.persistent_tracking.val: true``, else each clip) is
tracked by :class:`dreem.inference.tracker.Tracker` with the config's ``tracker`` section
and scored identity-only (each gt detection can only match its own hypothesis, spec §7).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dreem.utils.errors import ConfigError

_ALIASES = {"sw_cnt": "num_switches"}
_ALL = ("num_switches", "mota", "idf1")


@dataclass
class ValGroup:
    """Cached per-detection inputs of one tracking unit (CPU tensors / arrays)."""

    feats: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    frames: list = field(default_factory=list)
    gt: list = field(default_factory=list)
    img_hw: tuple[int, int] = (1, 1)

    def add(self, feats, boxes, frames, gt, img_hw) -> None:
        self.feats.append(feats.detach().float().cpu())
        self.boxes.append(boxes.detach().float().cpu())
        self.frames.append(frames.detach().cpu())
        self.gt.append(gt.detach().cpu())
        self.img_hw = tuple(img_hw)


def resolve_metric_names(names: list[str] | None, key: str = "runner.metrics.val") -> list[str]:
    """Validate py-motmetrics names (``sw_cnt`` → ``num_switches``; ``all`` → a short set)."""
    if not names:
        return []
    import motmetrics as mm

    known = list(mm.metrics.create().names)
    out: list[str] = []
    for n in names:
        n = _ALIASES.get(n, n)
        if n in ("all", "motmetrics"):
            out += [m for m in _ALL if m not in out]
            continue
        if n not in known:
            close = difflib.get_close_matches(n, known, n=3)
            raise ConfigError(f"{key}: unknown motmetrics metric {n!r}; did you mean {close}?")
        if n not in out:
            out.append(n)
    return out


@torch.no_grad()
def track_group(model, group: ValGroup, tracker_cfg: dict | None) -> tuple[np.ndarray, ...]:
    """Track one group with the real tracker → ``(frame_idx, gt_ids, pred_ids)``."""
    from dreem.inference.track import model_associate
    from dreem.inference.tracker import Tracker

    frames = torch.cat(group.frames)
    order = torch.argsort(frames, stable=True)
    frames = frames[order].numpy()
    feats = torch.cat(group.feats)[order]
    boxes = torch.cat(group.boxes)[order].numpy()
    gt = torch.cat(group.gt)[order].numpy()
    h, w = group.img_hw
    centre = np.nanmean(boxes, axis=1)  # (N, 4) normalised
    centroids = np.stack(
        [(centre[:, 1] + centre[:, 3]) / 2 * w, (centre[:, 0] + centre[:, 2]) / 2 * h], 1
    )
    assoc = model_associate(model, feats, boxes, frames)
    result = Tracker(tracker_cfg or {}).track_video(assoc, frames, boxes, centroids)
    return frames, gt, result.track_id


def identity_metrics(
    groups: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]], metrics: list[str]
) -> dict[str, float]:
    """Identity-only motmetrics over ``{name: (frame_idx, gt_ids, pred_ids)}``; OVERALL row.

    Detections without ground truth (gt −1) or without a prediction (−1) are left out.
    """
    import motmetrics as mm

    accs, names = [], []
    for key, (frames, gts, preds) in groups.items():
        acc = mm.MOTAccumulator(auto_id=True)
        for f in np.unique(frames):
            sel = (frames == f) & (gts >= 0) & (preds >= 0)
            g, h = gts[sel], preds[sel]
            dist = np.full((len(g), len(h)), np.nan)
            np.fill_diagonal(dist, 1.0)
            acc.update(g.tolist(), h.tolist(), dist)
        accs.append(acc)
        names.append(str(key))
    if not accs:
        return {}
    mh = mm.metrics.create()
    summary = mh.compute_many(accs, metrics=metrics, names=names, generate_overall=True)
    row = summary.loc["OVERALL"] if "OVERALL" in summary.index else summary.iloc[-1]
    return {m: float(row[m]) for m in metrics}
