"""EXTENSION: a supervised contrastive loss on the encoder's appearance features.

The association loss teaches "which detection of frame t is this one" through the whole
transformer; this loss shapes the visual features themselves into an identity metric:
for every labelled detection ``i`` of a clip, the other detections with the same identity
(in other frames) are positives and every detection with another identity is a negative
(SupCon, Khosla et al. 2020, on L2-normalised features with temperature ``tau``).
Trained on many individuals it learns "same animal vs another animal" rather than the
individuals themselves.
"""

from __future__ import annotations

import torch


def supervised_contrastive(
    feats: torch.Tensor, gt_ids: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Mean SupCon loss over the detections that have at least one positive (0 if none).

    ``feats (N, D)`` L2-normalised, ``gt_ids (N,)`` (``-1`` = unlabelled: neither anchor nor
    positive nor negative).
    """
    keep = gt_ids >= 0
    z, g = feats[keep].float(), gt_ids[keep]
    n = len(g)
    if n < 2:
        return feats.new_zeros((), dtype=torch.float32)
    sim = z @ z.T / temperature
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (g[:, None] == g[None, :]) & ~eye
    n_pos = pos.sum(1)
    has = n_pos > 0
    if not bool(has.any()):
        return feats.new_zeros((), dtype=torch.float32)
    mean_pos = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(1) / n_pos.clamp(min=1)
    return -mean_pos[has].mean()
