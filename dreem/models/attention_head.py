"""Association head: MLP projections of queries and keys, scaled dot product → logits."""

from __future__ import annotations

import math

import torch
from torch import nn

from dreem.models.embeddings import MLP


class AttentionHead(nn.Module):
    """``logits = MLP_q(query) @ MLP_k(key).T * s`` with ``s = 1/√d`` if ``scale`` else 1."""

    def __init__(self, d_model: int, num_layers: int = 1, dropout: float = 0.1, scale=False):
        super().__init__()
        self.q_proj = MLP(d_model, d_model, d_model, num_layers, dropout)
        self.k_proj = MLP(d_model, d_model, d_model, num_layers, dropout)
        self.factor = 1.0 / math.sqrt(d_model) if scale else 1.0

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """``query (n_q, D)``, ``key (n_ref, D)`` → ``(n_q, n_ref)``."""
        return (self.q_proj(query) @ self.k_proj(key).T) * self.factor
