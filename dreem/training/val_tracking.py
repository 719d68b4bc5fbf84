"""Validation tracking metrics: run the real tracker on val clips, score like ``evaluate``.

Features are computed once per validation step (the same ones the loss uses); at epoch end
each group (a whole video with ``runner.persistent_tracking.val: true``, else each clip) is
tracked by :class:`dreem.inference.tracker.Tracker` with the model config's own ``tracker``
section and scored with the evaluation stage's identity accumulator
(:func:`dreem.evaluation.motmetrics_eval.identity_accumulator`: unassigned detections count
as misses), so the checkpoint chosen on a validation metric is chosen on what the
evaluation measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dreem.config.tracker import TrackerConfig


@dataclass
class ValGroup:
    """Cached per-detection inputs of one tracking unit (CPU tensors / arrays)."""

    feats: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    frames: list = field(default_factory=list)
    gt: list = field(default_factory=list)
    poses: list = field(default_factory=list)
    img_hw: tuple[int, int] = (1, 1)

    def add(self, feats, boxes, frames, gt, img_hw, poses=None) -> None:
        """One clip's detections; ``poses (N, K, 2)`` keypoints in frame pixels or None."""
        self.feats.append(feats.detach().float().cpu())
        self.boxes.append(boxes.detach().float().cpu())
        self.frames.append(frames.detach().cpu())
        self.gt.append(gt.detach().cpu())
        n = int(frames.shape[0])
        self.poses.append(torch.zeros(n, 0, 2) if poses is None else poses.detach().float().cpu())
        self.img_hw = tuple(img_hw)


@torch.no_grad()
def track_group(model, group: ValGroup, tracker_cfg: TrackerConfig) -> tuple[np.ndarray, ...]:
    """Track one group with the real tracker → ``(frame_idx, gt_ids, pred_ids)``."""
    from dreem.inference.track import model_associate, repaired
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
    result = Tracker(tracker_cfg).track_video(
        assoc, frames, boxes, centroids, px_to_box=(1.0 / h, 1.0 / w)
    )
    poses = _joined_poses(group.poses, order)
    result = repaired(result, tracker_cfg, frames, centroids, feats, poses=poses)
    return frames, gt, result.track_id


def _joined_poses(poses: list, order: torch.Tensor) -> np.ndarray | None:
    """The clips' keypoints in tracking order, or None when their node counts differ or
    none has any."""
    if not poses or len({p.shape[1] for p in poses}) != 1 or poses[0].shape[1] == 0:
        return None
    return torch.cat(poses)[order].numpy()


def identity_metrics(
    groups: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]], metrics: list[str]
) -> dict[str, float]:
    """Identity-only metrics over ``{name: (frame_idx, gt_ids, pred_ids)}`` (all groups
    together, motmetrics' OVERALL), with the evaluation stage's accumulator."""
    import pandas as pd

    from dreem.evaluation.motmetrics_eval import identity_summary

    tables = [
        pd.DataFrame({"frame_idx": f, "gt_track_id": g, "track_id": p})
        for f, g, p in groups.values()
    ]
    return identity_summary(tables, metrics)
