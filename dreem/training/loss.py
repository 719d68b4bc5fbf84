"""Association loss (DREEM ``AssoLoss``): per-frame softmax with a null option.

For every labelled query detection ``i`` and every frame ``t`` of the clip, the logits of
``i`` against the detections of frame ``t`` plus a null logit of 0 are soft-maxed; the
target is the frame-``t`` detection with ``i``'s identity (``i`` itself in its own frame),
or null if that identity is absent from frame ``t``. Summed cross-entropy is divided by the
number of non-null targets; layers (intermediate decoder outputs) are summed.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dreem.config.training import LossConfig


def frame_targets(
    gt_ids: torch.Tensor, frame_idx: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per frame: column indices of its detections and the target class of every row.

    The target of row ``i`` in frame ``t`` is the position (within frame ``t``) of the
    detection carrying ``gt_ids[i]``, or ``n_t`` (null) when there is none or ``gt_ids[i] < 0``.
    """
    cols_per_frame, targets = [], []
    labelled = gt_ids >= 0
    for f in torch.unique(frame_idx):
        cols = torch.nonzero(frame_idx == f).flatten()
        same = (gt_ids[:, None] == gt_ids[cols][None, :]) & labelled[:, None]
        counts = same.sum(1)
        if bool((counts > 1).any()):
            raise ValueError(f"identity occurs twice in frame {int(f)}; remove duplicates first")
        tgt = torch.where(counts > 0, same.float().argmax(1), torch.full_like(counts, len(cols)))
        cols_per_frame.append(cols)
        targets.append(tgt)
    return cols_per_frame, targets


class AssoLoss(nn.Module):
    """The association loss configured by the ``loss`` section."""

    def __init__(self, cfg: LossConfig):
        super().__init__()
        self.neg_unmatched = cfg.neg_unmatched
        self.epsilon = cfg.epsilon
        self.asso_weight = cfg.asso_weight

    def forward(
        self, logits: list[torch.Tensor], gt_ids: torch.Tensor, frame_idx: torch.Tensor
    ) -> torch.Tensor:
        """``logits``: list of ``(N, N)`` (rows = queries, cols = refs, same detection order)."""
        cols_per_frame, targets = frame_targets(gt_ids, frame_idx)
        rows = torch.ones_like(gt_ids, dtype=torch.bool) if self.neg_unmatched else gt_ids >= 0
        total = logits[0].new_zeros((), dtype=torch.float32)
        for layer in logits:
            layer = layer.float()[rows]
            loss = layer.new_zeros(())
            n_obj = 0
            for cols, tgt in zip(cols_per_frame, targets, strict=True):
                block = layer[:, cols]
                block = torch.cat([block, block.new_zeros((block.shape[0], 1))], dim=1)
                t = tgt[rows]
                loss = loss + F.cross_entropy(block, t, reduction="sum")
                n_obj += int((t != len(cols)).sum())
            total = total + loss / (n_obj + self.epsilon)
        return total * self.asso_weight
