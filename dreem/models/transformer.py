"""DETR/GTR-style encoder-decoder over the detections of one window (batch size 1).

Tensors are ``(L, D)``: one token per detection. ``pos_every_layer`` chooses whether the
spatio-temporal embedding is added to the input once (``False``) or re-added before every
layer as in the reference (``True``); the default is set by measurement (docs/deviations.md).
"""

from __future__ import annotations

import torch
from torch import nn

from dreem.utils.errors import ConfigError


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "gelu":
        return nn.GELU()
    if name == "glu":
        return nn.GLU()
    raise ConfigError(f"model.activation: must be relu, gelu or glu, got {name!r}")


class FeedForward(nn.Module):
    def __init__(self, d_model: int, dim_ff: int, dropout: float, activation: str):
        super().__init__()
        mult = 2 if activation == "glu" else 1
        self.lin1 = nn.Linear(d_model, dim_ff * mult)
        self.act = _activation(activation)
        self.drop = nn.Dropout(dropout)
        self.lin2 = nn.Linear(dim_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(self.drop(self.act(self.lin1(x))))


def _norm(d_model: int, on: bool) -> nn.Module:
    return nn.LayerNorm(d_model) if on else nn.Identity()


class EncoderLayer(nn.Module):
    """Post-norm self-attention + feed-forward."""

    def __init__(self, d_model, nhead, dropout, activation, norm):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.ff = FeedForward(d_model, d_model, dropout, activation)
        self.n1, self.n2 = _norm(d_model, norm), _norm(d_model, norm)
        self.d1, self.d2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(x, x, x, need_weights=False)[0]
        x = self.n1(x + self.d1(a))
        return self.n2(x + self.d2(self.ff(x)))


class DecoderLayer(nn.Module):
    """Optional self-attention, cross-attention to the encoder memory, feed-forward."""

    def __init__(self, d_model, nhead, dropout, activation, norm, self_attn: bool):
        super().__init__()
        self.self_attn = (
            nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
            if self_attn
            else None
        )
        self.cross = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.ff = FeedForward(d_model, d_model, dropout, activation)
        self.n1, self.n2, self.n3 = (_norm(d_model, norm) for _ in range(3))
        self.d1, self.d2, self.d3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(self, q: torch.Tensor, mem: torch.Tensor, self_mask=None) -> torch.Tensor:
        if self.self_attn is not None:
            a = self.self_attn(q, q, q, attn_mask=self_mask, need_weights=False)[0]
            q = self.n1(q + self.d1(a))
        q = self.n2(q + self.d2(self.cross(q, mem, mem, need_weights=False)[0]))
        return self.n3(q + self.d3(self.ff(q)))


class Transformer(nn.Module):
    """Encoder over reference detections, decoder with query detections as queries."""

    def __init__(
        self,
        d_model: int = 128,
        nhead: int = 1,
        num_encoder_layers: int = 1,
        num_decoder_layers: int = 1,
        dropout: float = 0.1,
        activation: str = "relu",
        norm: bool = False,
        return_intermediate_dec: bool = False,
        decoder_self_attn: bool = False,
        pos_every_layer: bool = False,
    ):
        super().__init__()
        if d_model % nhead:
            raise ConfigError(f"model.d_model ({d_model}) must be divisible by nhead ({nhead})")
        self.enc = nn.ModuleList(
            EncoderLayer(d_model, nhead, dropout, activation, norm)
            for _ in range(num_encoder_layers)
        )
        self.dec = nn.ModuleList(
            DecoderLayer(d_model, nhead, dropout, activation, norm, decoder_self_attn)
            for _ in range(num_decoder_layers)
        )
        self.enc_norm = _norm(d_model, norm)
        self.dec_norm = _norm(d_model, norm)
        self.return_intermediate = return_intermediate_dec
        self.pos_every_layer = pos_every_layer

    def encode(self, ref: torch.Tensor, ref_pos: torch.Tensor) -> torch.Tensor:
        """``(N_ref, D)`` features + embeddings → encoder memory ``(N_ref, D)``."""
        x = (ref + ref_pos).unsqueeze(0)
        for i, layer in enumerate(self.enc):
            if self.pos_every_layer and i > 0:
                x = x + ref_pos
            x = layer(x)
        return self.enc_norm(x)[0]

    def decode(
        self,
        query: torch.Tensor,
        query_pos: torch.Tensor,
        mem: torch.Tensor,
        ref_pos: torch.Tensor,
        query_frames: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """Queries ``(n_q, D)`` attend to memory ``(N_ref, D)``; one output per layer kept.

        Decoder self-attention only mixes queries of the same frame (``query_frames``), so a
        training forward over a whole clip gives, row for row, what tracking one frame gives.
        """
        mask = None
        if query_frames is not None and any(layer.self_attn is not None for layer in self.dec):
            mask = query_frames[:, None] != query_frames[None, :]
        q = (query + query_pos).unsqueeze(0)
        m = mem.unsqueeze(0)
        m_pos = (mem + ref_pos).unsqueeze(0) if self.pos_every_layer else m
        outs = []
        for i, layer in enumerate(self.dec):
            if self.pos_every_layer and i > 0:
                q = q + query_pos
            q = layer(q, m_pos, mask)
            if self.return_intermediate or i == len(self.dec) - 1:
                outs.append(self.dec_norm(q)[0])
        return outs


def xavier_init(module: nn.Module) -> None:
    """Xavier-uniform init of every parameter with more than one dimension."""
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
