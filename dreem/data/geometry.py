"""Anchor resolution and crop geometry.

Conventions (used everywhere in dreem):

* Points are ``(x, y)`` in pixels with pixel *centres* at integer coordinates (the convention
  of albumentations and OpenCV), so the frame pixel "at" an anchor is
  ``(row, col) = (floor(y + 0.5), floor(x + 0.5))``.
* A crop window is a square of side ``S = crop_size + 2 * padding`` whose pixel ``S // 2``
  (row and column) is the frame pixel at the anchor, always — also near the borders, where
  the part of the window outside the frame is zero-filled. (The reference clamps boxes at
  the top/left border and shifts them inward; we do not.)
* Boxes are ``[y1, x1, y2, x2]`` pixel windows (``y2 - y1 == x2 - x1 == S``); a missing
  anchor gives a NaN box and an all-zero crop.

Anchor specs (the ``anchors`` dataset key):

* ``"thorax"`` — one named node; ``["head", "thorax"]`` — several anchors (one crop each);
* ``"centroid"`` / ``"midpoint"`` / ``""`` / ``None`` — nan-mean of the visible nodes, unless
  the skeleton has a node literally named so, which is then used; on centroid-only sources
  (CTC masks, TrackMate/ISBI/ICY tables: one node ``centroid``) *every* anchor name resolves
  to the centroid, so a model configured for named anchors keeps its channel count;
* an int ``k`` — ``k`` anchors drawn per instance, with replacement, from its visible nodes
  plus the midpoint (seeded RNG).

``handle_missing`` (an anchor node invisible in an instance): ``"drop"`` skips the instance,
``"ignore"`` keeps it (NaN box, zero crop for that anchor), ``"centroid"`` falls back to the
midpoint when there is a single anchor (with several anchors a missing one is kept as in
``"ignore"``, like the reference).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from dreem.utils.errors import ConfigError

HANDLE_MISSING = ("drop", "ignore", "centroid")
MIDPOINT_NAMES = ("centroid", "midpoint", "")
MIDPOINT = -1  # node index meaning "nan-mean of the visible nodes"


@dataclass(frozen=True)
class AnchorSpec:
    """Resolved anchors: fixed node indices (``MIDPOINT`` for the mean) or ``n_random`` draws."""

    names: tuple[str, ...]  # resolved names (["random:3"] for random anchors)
    indices: tuple[int, ...]  # node index per anchor, MIDPOINT = nan-mean; empty if random
    n_random: int = 0

    @property
    def n_anchors(self) -> int:
        return self.n_random if self.n_random else len(self.indices)


def normalize_anchors(anchors, key: str = "anchors") -> str | list[str] | int:
    """Canonical, JSON-stable form of an ``anchors`` value (before knowing the skeleton)."""
    if anchors is None:
        return "centroid"
    if isinstance(anchors, bool):
        raise ConfigError(
            f"{key}: expected a node name, a list of names or an int, got {anchors!r}"
        )
    if isinstance(anchors, int | np.integer):
        if int(anchors) <= 0:
            raise ConfigError(f"{key}: the number of random anchors must be > 0, got {anchors}")
        return int(anchors)
    if isinstance(anchors, str):
        return anchors if anchors else "centroid"
    if isinstance(anchors, list | tuple):
        if not anchors:
            raise ConfigError(f"{key}: the anchor list is empty")
        bad = [a for a in anchors if not isinstance(a, str)]
        if bad:
            raise ConfigError(f"{key}: anchor names must be strings, got {bad!r}")
        return [a if a else "centroid" for a in anchors]
    raise ConfigError(
        f"{key}: expected a node name, a list of names or an int, got {type(anchors).__name__}"
    )


def n_anchors_of(anchors) -> int:
    """Number of anchors (crops per instance) of a normalised ``anchors`` value."""
    a = normalize_anchors(anchors)
    if isinstance(a, int):
        return a
    return 1 if isinstance(a, str) else len(a)


def resolve_anchors(anchors, node_names: list[str], where: str = "") -> AnchorSpec:
    """Map an ``anchors`` value onto a skeleton; unknown node names raise :class:`ConfigError`."""
    a = normalize_anchors(anchors)
    if isinstance(a, int):
        return AnchorSpec(names=(f"random:{a}",), indices=(), n_random=a)
    names = [a] if isinstance(a, str) else list(a)
    if list(node_names) == ["centroid"]:  # point formats: every anchor is the centroid
        return AnchorSpec(names=("centroid",) * len(names), indices=(0,) * len(names))
    indices = []
    for name in names:
        if name in node_names:
            indices.append(node_names.index(name))
        elif name in MIDPOINT_NAMES:
            indices.append(MIDPOINT)
        else:
            close = difflib.get_close_matches(name, node_names, n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            src = f" of {where}" if where else ""
            raise ConfigError(
                f"anchors: node {name!r} is not in the skeleton{src} "
                f"(nodes: {', '.join(node_names) or 'none'}){hint}"
            )
    return AnchorSpec(names=tuple(names), indices=tuple(indices))


def check_handle_missing(value: str) -> str:
    """Validate a ``handle_missing`` value."""
    if value not in HANDLE_MISSING:
        close = difflib.get_close_matches(str(value), HANDLE_MISSING, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"handle_missing: {value!r} is not one of {list(HANDLE_MISSING)}{hint}")
    return value


def midpoints(points: np.ndarray) -> np.ndarray:
    """Nan-mean of the visible nodes: ``(..., n_nodes, 2) -> (..., 2)`` (NaN if none visible)."""
    pts = np.asarray(points, np.float64)
    vis = np.isfinite(pts).all(-1)
    cnt = vis.sum(-1)
    tot = np.where(vis[..., None], pts, 0.0).sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = tot / cnt[..., None]
    out[cnt == 0] = np.nan
    return out.astype(np.float32)


def anchor_points(
    points: np.ndarray,
    spec: AnchorSpec,
    handle_missing: str = "centroid",
    rng: np.random.Generator | None = None,
    mid: np.ndarray | None = None,
) -> np.ndarray:
    """Anchor coordinates ``(n_inst, n_anchors, 2)`` (x, y; NaN = missing) of one frame.

    ``points``: ``(n_inst, n_nodes, 2)``. ``handle_missing="centroid"`` with one anchor
    replaces a missing anchor by the midpoint. Dropping is left to the caller
    (see :func:`keep_mask`). ``mid``: precomputed :func:`midpoints` of ``points``.
    """
    pts = np.asarray(points, np.float32)
    n = pts.shape[0]
    mid = midpoints(pts) if mid is None else mid  # (n, 2)
    if spec.n_random:
        rng = rng if rng is not None else np.random.default_rng(0)
        out = np.full((n, spec.n_random, 2), np.nan, np.float32)
        for i in range(n):
            visible = np.flatnonzero(np.isfinite(pts[i]).all(-1))
            cand = np.concatenate([pts[i, visible], mid[i][None]], axis=0)
            out[i] = cand[rng.integers(0, len(cand), spec.n_random)]
        return out
    cols = []
    for idx in spec.indices:
        cols.append(mid if idx == MIDPOINT else pts[:, idx])
    out = np.stack(cols, axis=1) if cols else np.zeros((n, 0, 2), np.float32)
    if handle_missing == "centroid" and len(spec.indices) == 1:
        miss = ~np.isfinite(out[:, 0]).all(-1)
        out[miss, 0] = mid[miss]
    return out.astype(np.float32)


def keep_mask(anchors_xy: np.ndarray, handle_missing: str) -> np.ndarray:
    """Instances to keep ``(n_inst,)``: with ``"drop"`` those whose anchors are all present."""
    if handle_missing == "drop":
        return np.isfinite(anchors_xy).all(axis=(1, 2))
    return np.ones(anchors_xy.shape[0], bool)


def anchor_pixels(anchors_xy: np.ndarray) -> np.ndarray:
    """Integer pixel ``(row, col)`` at each anchor, ``(..., 2)`` int64 (garbage where NaN)."""
    xy = np.asarray(anchors_xy, np.float64)
    xy = np.where(np.isfinite(xy), xy, 0.0)
    return np.floor(xy[..., ::-1] + 0.5).astype(np.int64)


def square_boxes(anchors_xy: np.ndarray, crop_size: int, padding: int = 0) -> np.ndarray:
    """Crop windows ``(..., 4)`` ``[y1, x1, y2, x2]`` (float32 pixels; NaN for missing anchors).

    The window has side ``crop_size + 2 * padding`` and its pixel ``side // 2`` is the frame
    pixel at the anchor.
    """
    side = int(crop_size) + 2 * int(padding)
    rc = anchor_pixels(anchors_xy)
    top_left = rc - side // 2
    boxes = np.concatenate([top_left, top_left + side], axis=-1).astype(np.float32)
    missing = ~np.isfinite(np.asarray(anchors_xy)).all(-1)
    boxes[missing] = np.nan
    return boxes


def crop_windows(image: np.ndarray, boxes: np.ndarray, side: int) -> np.ndarray:
    """Cut square windows out of ``image`` ``(H, W, C)`` → ``(*boxes.shape[:-1], C, side, side)``.

    ``boxes`` ``(..., 4)`` from :func:`square_boxes`; the part of a window outside the frame
    and windows with NaN boxes are zero. Native dtype is kept.
    """
    img = image if image.ndim == 3 else image[:, :, None]
    h, w, c = img.shape
    lead = boxes.shape[:-1]
    flat = boxes.reshape(-1, 4)
    out = np.zeros((flat.shape[0], c, side, side), dtype=img.dtype)
    ok = np.isfinite(flat).all(-1)
    for k in np.flatnonzero(ok):
        y1, x1 = int(flat[k, 0]), int(flat[k, 1])
        y2, x2 = y1 + side, x1 + side
        sy1, sx1, sy2, sx2 = max(y1, 0), max(x1, 0), min(y2, h), min(x2, w)
        if sy1 >= sy2 or sx1 >= sx2:
            continue
        patch = img[sy1:sy2, sx1:sx2]  # (h', w', C)
        out[k, :, sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = patch.transpose(2, 0, 1)
    return out.reshape(*lead, c, side, side)
