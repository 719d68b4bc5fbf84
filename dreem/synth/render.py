"""Drawing synthetic animals: per-animal appearance, pose nodes and frame rendering.

An animal is an ellipse (length ``body_length``, width ``0.4 * body_length``) rotated along
its heading, filled with a texture defined in body coordinates, so its look is stable while
it moves and turns. Appearances differ by base brightness (evenly spaced levels, shuffled),
pattern (uniform, transverse stripes, a midline stripe, spots, a half-body shade, checker)
and a small size factor. A darker head cap marks the front. Animals are drawn in a fixed
z-order (index order, later on top) with soft edges, then Gaussian noise is added.
"""

from __future__ import annotations

import attrs
import numpy as np

NODE_NAMES = ("head", "thorax", "abdomen", "wingL", "wingR")
EDGES = (("thorax", "head"), ("thorax", "abdomen"), ("thorax", "wingL"), ("thorax", "wingR"))
BACKGROUND = 40.0
WIDTH_RATIO = 0.4


@attrs.define(frozen=True)
class Appearance:
    """How one animal looks: brightness, pattern name, pattern contrast/phase, size factor."""

    brightness: float
    pattern: str
    contrast: float
    phase: float
    scale: float


def make_appearances(rng: np.random.Generator, n_animals: int) -> list[Appearance]:
    """Distinct appearances for ``n_animals``: unique brightness, cycling shuffled patterns."""
    levels = np.linspace(105.0, 235.0, max(n_animals, 2))[:n_animals]
    levels = rng.permutation(levels)
    names = list(PATTERNS)
    patterns = [names[i] for i in rng.permutation(len(names))]
    return [
        Appearance(
            brightness=float(levels[k]),
            pattern=patterns[k % len(patterns)],
            contrast=float(rng.uniform(55.0, 80.0)),
            phase=float(rng.uniform(0.0, 1.0)),
            scale=float(rng.uniform(0.9, 1.1)),
        )
        for k in range(n_animals)
    ]


def _spots(un: np.ndarray, vn: np.ndarray, phase: float) -> np.ndarray:
    d1 = (un + 0.35) ** 2 + (vn - 0.35) ** 2
    d2 = (un - 0.15) ** 2 + (vn + 0.4) ** 2
    return np.where(np.minimum(d1, d2) < 0.09, -1.0, 0.2)


# pattern name -> modulation in [-1, 1] at body coordinates (un along, vn across; phase in [0, 1))
PATTERNS = {
    "uniform": lambda un, vn, phase: np.zeros_like(un),
    "stripes": lambda un, vn, phase: np.sign(np.sin(2 * np.pi * (1.5 * un + phase))),
    "midline": lambda un, vn, phase: np.where(np.abs(vn) < 0.35, 1.0, -0.4),
    "spots": _spots,
    "half": lambda un, vn, phase: np.where(un < 0.0, 1.0, -1.0),
    "checker": lambda un, vn, phase: np.sign(np.sin(2 * np.pi * un + 0.5)) * np.sign(vn + 1e-6),
}


def texture(app: Appearance, un: np.ndarray, vn: np.ndarray) -> np.ndarray:
    """Grey level at body coordinates ``un`` (along) and ``vn`` (across), both in [-1, 1]."""
    if app.pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {app.pattern!r}; expected one of {list(PATTERNS)}")
    value = app.brightness + 0.5 * app.contrast * PATTERNS[app.pattern](un, vn, app.phase)
    return np.where(un > 0.62, 0.55 * value, value)  # darker head cap


def pose_points(
    xy: np.ndarray, heading: np.ndarray, body_length: float, scales: np.ndarray
) -> np.ndarray:
    """Node positions for animals at ``xy`` (n, 2) with ``heading`` (n,).

    Returns (n, len(NODE_NAMES), 2) as (x, y): head at the front, thorax slightly ahead of
    the body centre, abdomen behind, wings to either side behind the thorax.
    """
    half = 0.5 * body_length * scales[:, None]
    fwd = np.stack([np.cos(heading), np.sin(heading)], axis=1)
    side = np.stack([-np.sin(heading), np.cos(heading)], axis=1)
    width = WIDTH_RATIO * half
    offsets = [(0.8, 0.0), (0.15, 0.0), (-0.65, 0.0), (-0.3, -0.9), (-0.3, 0.9)]
    pts = [xy + a * half * fwd + b * width * side for a, b in offsets]
    return np.stack(pts, axis=1)


def ellipse_window(
    shape: tuple[int, int],
    cx: float,
    cy: float,
    a: float,
    b: float,
    angle: float,
    pad: tuple[int, int] = (2, 3),
) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Pixel window around an ellipse (semi-axes ``a`` along ``angle``, ``b`` across),
    clipped to the image, and each pixel's body coordinates ``(u, v)`` scaled so the
    ellipse is ``u² + v² <= 1``. None when the window falls outside the image."""
    height, width = shape
    x0, x1 = max(int(cx - a) - pad[0], 0), min(int(cx + a) + pad[1], width)
    y0, y1 = max(int(cy - a) - pad[0], 0), min(int(cy + a) + pad[1], height)
    if x0 >= x1 or y0 >= y1:
        return None
    gx = np.arange(x0, x1, dtype=np.float32) - cx
    gy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
    c, s = np.cos(angle), np.sin(angle)
    u = gx * c + gy * s
    v = -gx * s + gy * c
    return slice(y0, y1), slice(x0, x1), u / a, v / b


def draw_frame(
    canvas: np.ndarray,
    xy: np.ndarray,
    heading: np.ndarray,
    appearances: list[Appearance],
    body_length: float,
) -> None:
    """Draw all animals onto ``canvas`` (H, W) float32 in place, in index (z) order."""
    for k, app in enumerate(appearances):
        a = 0.5 * body_length * app.scale
        b = WIDTH_RATIO * a
        window = ellipse_window(canvas.shape, xy[k][0], xy[k][1], a, b, heading[k])
        if window is None:
            continue
        ys, xs, un, vn = window
        r = np.sqrt(un**2 + vn**2)
        alpha = np.clip(0.5 + (1.0 - r) * b, 0.0, 1.0)  # ~1 px soft edge
        patch = canvas[ys, xs]
        patch += alpha * (texture(app, un, vn) - patch)


def render_frames(
    rng: np.random.Generator,
    xy: np.ndarray,
    heading: np.ndarray,
    appearances: list[Appearance],
    size: tuple[int, int],
    body_length: float,
    noise_std: float,
) -> np.ndarray:
    """Render (n_frames, H, W) uint8 frames for trajectories ``xy`` (n_frames, n, 2)."""
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = 8.0 * np.sin(xx / width * np.pi) * np.sin(yy / height * np.pi)  # static vignette
    background = (BACKGROUND + ramp).astype(np.float32)
    frames = np.empty((len(xy), height, width), dtype=np.uint8)
    for t in range(len(xy)):
        canvas = background.copy()
        draw_frame(canvas, xy[t], heading[t], appearances, body_length)
        canvas += rng.standard_normal((height, width), dtype=np.float32) * noise_std
        np.clip(canvas, 0, 255, out=canvas)
        frames[t] = np.rint(canvas)
    return frames
