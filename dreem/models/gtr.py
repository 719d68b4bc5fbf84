"""The Global Tracking Transformer: visual encoder + spatio-temporal transformer + head.

Training calls ``forward(clip)`` (every detection of the clip is both reference and query).
Tracking calls ``encode(crops)`` once per detection, caches the features, and calls
``associate(...)`` per frame on a window of cached features. Both paths share the same code,
so in eval mode they give the same logits.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dreem.config.model import ModelConfig, PosEmbedding, TempEmbedding
from dreem.models.attention_head import AttentionHead
from dreem.models.embeddings import Embedding
from dreem.models.encoder import create_visual_encoder
from dreem.models.transformer import Transformer, xavier_init


def _embedding(kind: str, spec: PosEmbedding | TempEmbedding, d_model: int) -> Embedding:
    key = f"model.embedding_meta.{kind}"
    if kind == "temp":
        return Embedding(
            kind, spec.mode, d_model, emb_num=spec.emb_num, temperature=spec.temperature, key=key
        )
    mlp = spec.mlp_cfg
    return Embedding(
        kind,
        spec.mode,
        d_model,
        n_points=spec.n_points,
        emb_num=spec.emb_num,
        over_boxes=spec.over_boxes,
        temperature=spec.temperature,
        normalize=spec.normalize,
        scale=spec.scale,
        mlp=None if mlp is None else (mlp.hidden_dims or d_model, mlp.num_layers, mlp.dropout),
        key=key,
    )


def window_offsets(ref_times: torch.Tensor, query_times: torch.Tensor):
    """Frame indices → float offsets from the first frame of the window (ref ∪ query)."""
    t0 = torch.minimum(ref_times.min(), query_times.min()) if len(query_times) else ref_times.min()
    return (ref_times - t0).float(), (query_times - t0).float()


class GlobalTrackingTransformer(nn.Module):
    """Built from the validated ``model`` section of a DREEM config. ``plain_backbone``: for
    weights loaded afterwards (see :class:`dreem.models.encoder.VisualEncoder`)."""

    def __init__(self, cfg: ModelConfig, plain_backbone: bool = False):
        super().__init__()
        if not isinstance(cfg, ModelConfig):
            raise TypeError(f"expected a ModelConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        d = cfg.d_model
        self.d_model = d
        self.visual_encoder = create_visual_encoder(d, cfg.encoder_cfg, plain=plain_backbone)
        meta = cfg.embedding_meta
        self.pos_emb = _embedding("pos", meta.pos, d)
        self.temp_emb = _embedding("temp", meta.temp, d)
        self.transformer = Transformer(
            d_model=d,
            nhead=cfg.nhead,
            num_encoder_layers=cfg.num_encoder_layers,
            num_decoder_layers=cfg.num_decoder_layers,
            dropout=cfg.dropout,
            activation=cfg.activation,
            norm=cfg.norm,
            return_intermediate_dec=cfg.return_intermediate_dec,
            decoder_self_attn=cfg.decoder_self_attn,
            pos_every_layer=cfg.pos_every_layer,
        )
        self.head = AttentionHead(
            d, cfg.num_layers_attn_head, cfg.dropout_attn_head, scale=cfg.attn_head_scale
        )
        for part in (self.pos_emb, self.temp_emb, self.transformer, self.head):
            xavier_init(part)

    @property
    def in_chans(self) -> int:
        return self.visual_encoder.in_chans

    def encode(self, crops: torch.Tensor) -> torch.Tensor:
        """Crops ``(N, C, H, W)`` → L2-normalised features ``(N, d_model)``."""
        return self.visual_encoder(crops)

    def embed(self, boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Average of the enabled positional and temporal embeddings ``(N, d_model)``."""
        parts = []
        if self.pos_emb.mode != "off":
            parts.append(self.pos_emb(boxes))
        if self.temp_emb.mode != "off":
            parts.append(self.temp_emb(offsets))
        if not parts:
            return boxes.new_zeros((boxes.shape[0], self.d_model), dtype=torch.float32)
        return sum(parts) / len(parts)

    def associate(
        self,
        ref_feats: torch.Tensor,
        ref_boxes: torch.Tensor,
        ref_times: torch.Tensor,
        query_feats: torch.Tensor,
        query_boxes: torch.Tensor,
        query_times: torch.Tensor,
    ) -> list[torch.Tensor]:
        """Association logits ``(n_query, n_ref)``, one per kept decoder layer.

        ``*_times`` are source frame indices; they are re-expressed as offsets from the first
        frame of the window here. Boxes are normalised ``(N, A, 4)`` ``[y1, x1, y2, x2]``.
        """
        ref_t, query_t = window_offsets(ref_times, query_times)
        ref_pos = self.embed(ref_boxes, ref_t).to(ref_feats.dtype)
        query_pos = self.embed(query_boxes, query_t).to(query_feats.dtype)
        mem = self.transformer.encode(ref_feats, ref_pos)
        outs = self.transformer.decode(query_feats, query_pos, mem, ref_pos, query_times)
        return [self.head(o, mem) for o in outs]

    def forward(self, clip: Any) -> list[torch.Tensor]:
        """Training path: every detection of ``clip`` is reference and query → ``(N, N)``."""
        feats = self.encode(clip.crops)
        return self.associate(feats, clip.boxes, clip.frame_idx, feats, clip.boxes, clip.frame_idx)
