"""Spatial (box) and temporal (frame offset) embeddings.

Inputs are already normalised by the caller: boxes ``(N, A, 4)`` as ``[y1, x1, y2, x2]`` in
units of frame height/width (NaN = missing anchor), times ``(N,)`` as frame offsets from the
start of the window (float, 0 = first frame of the window).

Fixes relative to the reference (see docs/deviations.md):
* fixed positional with ``normalize: true`` scales the (already [0, 1]) coordinates by
  ``scale`` (2π) instead of dividing every coordinate by the last anchor's coordinate;
* learned temporal interpolates one table row per frame offset, so offsets 1..emb_num-1 are
  distinct (the reference mapped every offset ≥ 1 to the last row).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dreem.utils.errors import ConfigError


class MLP(nn.Module):
    """``num_layers`` linear layers with ReLU (+ dropout) between; 0 layers = identity."""

    def __init__(
        self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int, dropout=0.0
    ):
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < num_layers - 1:
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _interp_lookup(table: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Linear interpolation between rows of ``table`` (first dim) at fractional index ``u``."""
    n = table.shape[0]
    u = u.clamp(0, n - 1)
    lo = u.floor().long()
    hi = (lo + 1).clamp(max=n - 1)
    w = (u - lo.to(u.dtype)).unsqueeze(-1)
    return table[lo] * (1 - w) + table[hi] * w


def sine_table(pos: torch.Tensor, dim: int, temperature: float) -> torch.Tensor:
    """Interleaved sin/cos encoding of ``pos (...)`` → ``(..., dim)``."""
    k = torch.arange(dim // 2, device=pos.device, dtype=torch.float32)
    freq = temperature ** (-2 * k / dim)
    ang = pos.float().unsqueeze(-1) * freq
    out = torch.stack([ang.sin(), ang.cos()], dim=-1)
    return out.flatten(-2)


class Embedding(nn.Module):
    """Positional (``emb_type='pos'``) or temporal (``'temp'``) embedding of size ``features``."""

    def __init__(
        self,
        emb_type: str | None,
        mode: str | None,
        features: int,
        *,
        emb_num: int,
        temperature: float,
        n_points: int = 1,
        over_boxes: bool = True,
        normalize: bool = False,
        scale: float | None = None,
        mlp: tuple[int, int, float] | None = None,
        key: str = "model.embedding_meta",
    ) -> None:
        """``mlp``: ``(hidden_dim, num_layers, dropout)`` of the projection (pos only)."""
        super().__init__()
        if emb_type not in ("pos", "temp", "off", None):
            raise ConfigError(f"{key}: emb_type must be pos/temp/off, got {emb_type!r}")
        if mode not in ("fixed", "learned", "off", None):
            raise ConfigError(f"{key}.mode: must be fixed/learned/off, got {mode!r}")
        self.emb_type = emb_type
        self.mode = "off" if (emb_type in ("off", None) or mode in ("off", None)) else mode
        self.features = features
        self.n_points = int(n_points)
        self.emb_num = int(emb_num)
        self.over_boxes = over_boxes
        self.temperature = float(temperature)
        self.normalize = normalize
        if scale is not None and not normalize:
            raise ConfigError(f"{key}.scale: requires normalize: true")
        self.scale = float(scale) if scale is not None else (2 * math.pi if normalize else 1.0)
        self.mlp: nn.Module = nn.Identity()
        if self.mode == "off":
            return
        if emb_type == "pos":
            if self.mode == "fixed":
                if features % 8:
                    raise ConfigError(f"{key}: fixed positional needs d_model divisible by 8")
                in_dim = self.n_points * features
            else:
                self.per_coord = features // (4 * self.n_points)
                if self.per_coord < 1:
                    raise ConfigError(f"{key}: d_model too small for n_points={n_points}")
                self.lookup = nn.Parameter(
                    torch.empty(self.emb_num, self.n_points, 4, self.per_coord)
                )
                nn.init.normal_(self.lookup, std=0.02)
                in_dim = self.per_coord * 4 * self.n_points
            hidden, n_layers, dropout = mlp if mlp is not None else (features, 0, 0.0)
            if n_layers > 0:
                self.mlp = MLP(in_dim, hidden, features, n_layers, dropout)
            elif in_dim != features:
                raise ConfigError(
                    f"{key}.mlp_cfg: positional embedding of {n_points} points has {in_dim} "
                    f"channels, not d_model={features}; set mlp_cfg.num_layers > 0"
                )
        else:
            if self.mode == "fixed":
                if features % 2:
                    raise ConfigError(f"{key}: fixed temporal needs an even d_model")
            else:
                self.lookup = nn.Parameter(torch.empty(self.emb_num, features))
                nn.init.normal_(self.lookup, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Boxes ``(N, A, 4)`` for pos, offsets ``(N,)`` for temp → ``(N, features)``."""
        n = x.shape[0]
        if self.mode == "off":
            return x.new_zeros((n, self.features), dtype=torch.float32)
        if self.emb_type == "temp":
            if self.mode == "fixed":
                return sine_table(x, self.features, self.temperature)
            return _interp_lookup(self.lookup, x.float())
        return self._pos(x)

    def _pos(self, boxes: torch.Tensor) -> torch.Tensor:
        boxes = boxes.float()
        if boxes.dim() == 2:
            boxes = boxes.unsqueeze(1)
        if boxes.shape[1] != self.n_points:
            raise ValueError(
                f"boxes have {boxes.shape[1]} anchors but the positional embedding expects "
                f"n_points={self.n_points} (model.embedding_meta.pos.n_points)"
            )
        boxes = torch.nan_to_num(boxes, nan=-1.0)
        if not self.over_boxes:  # centre + size
            y1, x1, y2, x2 = boxes.unbind(-1)
            boxes = torch.stack([(y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1], dim=-1)
        n = boxes.shape[0]
        if self.mode == "fixed":
            emb = sine_table(boxes * self.scale, self.features // 4, self.temperature)
        else:
            u = boxes * (self.emb_num - 1)  # (N, A, 4)
            table = self.lookup  # (emb_num, A, 4, f)
            lo = u.clamp(0, self.emb_num - 1).floor().long()
            hi = (lo + 1).clamp(max=self.emb_num - 1)
            w = (u.clamp(0, self.emb_num - 1) - lo.to(u.dtype)).unsqueeze(-1)
            a_idx = torch.arange(self.n_points, device=boxes.device).view(1, -1, 1)
            c_idx = torch.arange(4, device=boxes.device).view(1, 1, -1)
            emb = table[lo, a_idx, c_idx] * (1 - w) + table[hi, a_idx, c_idx] * w
        return self.mlp(emb.reshape(n, -1))
