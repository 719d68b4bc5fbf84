"""Minimal sliding-window tracker + identity-only motmetrics, for validation metrics.

TODO(lead): switch validation to the real tracker (``dreem.inference.tracker.Tracker``) once
it has landed, so that ``val_num_switches`` measures exactly what ``dreem track`` does. This
one follows the same rules in miniature: per-track queue of the last ``window_size``
appearances, last-layer logits → per-frame softmax with a null column → summed per track →
Hungarian; a match is kept when the mean per-appearance probability exceeds
``overlap_thresh``, otherwise a new track starts.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dreem.utils.errors import ConfigError

_ALIASES = {"sw_cnt": "num_switches"}


def per_frame_softmax(logits: torch.Tensor, ref_frames: torch.Tensor) -> torch.Tensor:
    """Softmax of each row over each frame's columns plus a null logit of 0 (null dropped)."""
    out = torch.empty_like(logits)
    for f in torch.unique(ref_frames):
        cols = ref_frames == f
        block = logits[:, cols]
        z = torch.cat([block, block.new_zeros((block.shape[0], 1))], dim=1)
        out[:, cols] = torch.softmax(z, dim=1)[:, :-1]
    return out


@dataclass
class WindowTracker:
    """Greedy-free (Hungarian) window tracker over cached features."""

    window_size: int = 8
    overlap_thresh: float = 0.01
    feats: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    times: list = field(default_factory=list)
    ids: list = field(default_factory=list)
    next_id: int = 0

    def reset(self) -> None:
        self.feats, self.boxes, self.times, self.ids, self.next_id = [], [], [], [], 0

    @torch.no_grad()
    def track_frame(self, model, feats, boxes, times) -> list[int]:
        from scipy.optimize import linear_sum_assignment

        n = feats.shape[0]
        pred = [-1] * n
        if self.ids and n:
            rf, rb, rt = torch.stack(self.feats), torch.stack(self.boxes), torch.stack(self.times)
            logits = model.associate(rf, rb, rt, feats, boxes, times)[-1].float()
            probs = per_frame_softmax(logits, rt)
            ids = torch.tensor(self.ids)
            uniq_t = torch.unique(ids)
            uniq = uniq_t.tolist()
            onehot = (ids[:, None] == uniq_t[None, :]).to(probs.dtype)
            traj = (probs @ onehot).cpu().numpy()
            counts = onehot.sum(0).numpy()
            rows, cols = linear_sum_assignment(-traj)
            for r, c in zip(rows, cols, strict=True):
                if traj[r, c] > self.overlap_thresh * counts[c]:
                    pred[r] = uniq[c]
        for i in range(n):
            if pred[i] < 0:
                pred[i] = self.next_id
                self.next_id += 1
        for i in range(n):
            self.feats.append(feats[i])
            self.boxes.append(boxes[i])
            self.times.append(times[i])
            self.ids.append(pred[i])
        self._prune()
        return pred

    def _prune(self) -> None:
        keep, seen = [], {}
        for j in range(len(self.ids) - 1, -1, -1):
            seen[self.ids[j]] = seen.get(self.ids[j], 0) + 1
            if seen[self.ids[j]] <= self.window_size:
                keep.append(j)
        keep.reverse()
        self.feats = [self.feats[j] for j in keep]
        self.boxes = [self.boxes[j] for j in keep]
        self.times = [self.times[j] for j in keep]
        self.ids = [self.ids[j] for j in keep]

    @torch.no_grad()
    def track_clip(self, model, feats, boxes, frame_idx) -> np.ndarray:
        """Track all detections of a clip (frames in order) → predicted ids ``(N,)``."""
        pred = np.full(len(frame_idx), -1, dtype=np.int64)
        for f in torch.unique(frame_idx):
            idx = torch.nonzero(frame_idx == f).flatten()
            pred[idx.cpu().numpy()] = self.track_frame(
                model, feats[idx], boxes[idx], frame_idx[idx]
            )
        return pred


def resolve_metric_names(names: list[str] | None, key: str = "runner.metrics.val") -> list[str]:
    """Validate py-motmetrics metric names (``sw_cnt`` → ``num_switches``)."""
    if not names:
        return []
    import motmetrics as mm

    known = list(mm.metrics.create().names)
    out: list[str] = []
    for n in names:
        n = _ALIASES.get(n, n)
        if n in ("all", "motmetrics"):
            out += [m for m in ("num_switches", "mota", "idf1") if m not in out]
            continue
        if n not in known:
            close = difflib.get_close_matches(n, known, n=3)
            raise ConfigError(f"{key}: unknown motmetrics metric {n!r}; did you mean {close}?")
        out.append(n)
    return out


def identity_metrics(
    groups: dict[Any, list[tuple[np.ndarray, np.ndarray, np.ndarray]]], metrics: list[str]
) -> dict[str, float]:
    """Identity-only motmetrics over groups of ``(frame_idx, gt_ids, pred_ids)`` arrays.

    Each group (a clip, or a whole video with persistent tracking) is one accumulator; a gt
    detection may only match its own hypothesis (distance 1 on the diagonal, NaN elsewhere).
    Detections without ground truth (gt −1) are ignored. Returns the OVERALL values.
    """
    import motmetrics as mm

    accs, names = [], []
    for key, parts in groups.items():
        acc = mm.MOTAccumulator(auto_id=True)
        frames = np.concatenate([p[0] for p in parts])
        gts = np.concatenate([p[1] for p in parts])
        preds = np.concatenate([p[2] for p in parts])
        for f in np.unique(frames):
            sel = (frames == f) & (gts >= 0)
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
