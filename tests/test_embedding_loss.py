"""EXTENSION loss.embedding_weight: supervised contrastive loss on appearance features."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from dreem.training.embedding_loss import supervised_contrastive


def test_separated_identities_score_lower_than_mixed_ones():
    ids = torch.tensor([0, 0, 1, 1, 2, 2])
    separated = F.normalize(torch.eye(3)[ids] + 0.01 * torch.randn(6, 3), dim=1)
    mixed = F.normalize(torch.randn(6, 3), dim=1)
    good = supervised_contrastive(separated, ids, 0.1)
    bad = supervised_contrastive(mixed, ids, 0.1)
    assert good < 0.01 < bad


def test_hand_computed_value_and_unlabelled_rows_ignored():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    ids = torch.tensor([0, 0, 1, -1])  # the last row has no identity
    tau = 0.5
    # anchors 0 and 1 have one positive each; anchor 2 none (not counted)
    pos = math.exp(1 / tau)
    neg = math.exp(0 / tau)
    expected = -math.log(pos / (pos + neg))
    got = supervised_contrastive(z, ids, tau)
    assert abs(float(got) - expected) < 1e-6


def test_no_positive_pairs_is_zero_and_gradients_flow():
    z = F.normalize(torch.randn(3, 4), dim=1).requires_grad_()
    assert float(supervised_contrastive(z, torch.tensor([0, 1, 2]), 0.1)) == 0.0
    w = torch.randn(4, 4, requires_grad=True)
    loss = supervised_contrastive(
        F.normalize(torch.randn(4, 4) @ w, dim=1), torch.tensor([0, 0, 1, 1]), 0.1
    )
    loss.backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()
