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

from dreem.models.attention_head import AttentionHead
from dreem.models.embeddings import Embedding
from dreem.models.encoder import create_visual_encoder
from dreem.models.transformer import Transformer, xavier_init
from dreem.utils.errors import ConfigError

# Defaults chosen by measurement on the synthetic demo (docs/deviations.md).
DEFAULT_POS_EVERY_LAYER = False
DEFAULT_ATTN_SCALE = False

_MODEL_DEFAULTS: dict[str, Any] = {
    "d_model": 128,
    "nhead": 1,
    "num_encoder_layers": 1,
    "num_decoder_layers": 1,
    "dropout": 0.1,
    "activation": "relu",
    "norm": False,
    "num_layers_attn_head": 1,
    "dropout_attn_head": 0.1,
    "return_intermediate_dec": True,
    "decoder_self_attn": True,
    "embedding_meta": {"pos": {"mode": "learned"}, "temp": {"mode": "learned"}},
    "encoder_cfg": {"model_name": "resnet18", "backend": "timm", "in_chans": 3},
}

_EMB_KEYS = (
    "mode",
    "n_points",
    "emb_num",
    "over_boxes",
    "temperature",
    "normalize",
    "scale",
    "mlp_cfg",
)


def _embedding(kind: str, spec: Any, d_model: int) -> Embedding:
    key = f"model.embedding_meta.{kind}"
    if not spec:
        return Embedding(kind, "off", d_model, key=key)
    if not isinstance(spec, dict):
        raise ConfigError(f"{key}: expected a mapping or null, got {spec!r}")
    kwargs = {k: spec[k] for k in _EMB_KEYS if k in spec and spec[k] is not None}
    if kind == "temp":
        kwargs = {k: v for k, v in kwargs.items() if k in ("mode", "emb_num", "temperature")}
    return Embedding(kind, features=d_model, key=key, **kwargs)


def window_offsets(ref_times: torch.Tensor, query_times: torch.Tensor):
    """Frame indices → float offsets from the first frame of the window (ref ∪ query)."""
    t0 = torch.minimum(ref_times.min(), query_times.min()) if len(query_times) else ref_times.min()
    return (ref_times - t0).float(), (query_times - t0).float()


class GlobalTrackingTransformer(nn.Module):
    """Built from the ``model`` section of a DREEM config (a plain dict)."""

    def __init__(self, model_cfg: dict[str, Any] | None = None):
        super().__init__()
        cfg = {**_MODEL_DEFAULTS, **{k: v for k, v in (model_cfg or {}).items() if v is not None}}
        self.cfg = cfg
        d = int(cfg["d_model"])
        self.d_model = d
        self.visual_encoder = create_visual_encoder(d, cfg.get("encoder_cfg"))
        meta = cfg.get("embedding_meta") or {}
        if meta.get("use_fourier"):
            raise ConfigError("model.embedding_meta.use_fourier: the Fourier path is not supported")
        agg = meta.get("embedding_agg_method") or "average"
        if agg != "average":
            raise ConfigError(
                f"model.embedding_meta.embedding_agg_method: only 'average' is supported, "
                f"got {agg!r}"
            )
        self.pos_emb = _embedding("pos", meta.get("pos"), d)
        self.temp_emb = _embedding("temp", meta.get("temp"), d)
        self.transformer = Transformer(
            d_model=d,
            nhead=int(cfg["nhead"]),
            num_encoder_layers=int(cfg["num_encoder_layers"]),
            num_decoder_layers=int(cfg["num_decoder_layers"]),
            dropout=float(cfg["dropout"]),
            activation=cfg["activation"],
            norm=bool(cfg["norm"]),
            return_intermediate_dec=bool(cfg["return_intermediate_dec"]),
            decoder_self_attn=bool(cfg["decoder_self_attn"]),
            pos_every_layer=bool(cfg.get("pos_every_layer", DEFAULT_POS_EVERY_LAYER)),
        )
        self.head = AttentionHead(
            d,
            int(cfg["num_layers_attn_head"]),
            float(cfg["dropout_attn_head"]),
            scale=bool(cfg.get("attn_head_scale", DEFAULT_ATTN_SCALE)),
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
