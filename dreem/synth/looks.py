"""An appearance space of many same-species-like individuals, and a sampler over it.

A :class:`Look` is one individual: a body ellipse with a grey texture in body coordinates
(``u`` along the body, -1 tail to +1 head; ``v`` across, -1 to +1), a darker head cap,
optional semi-transparent wings behind the thorax and a size factor. Textures come from
pattern *families* with continuous parameters (:data:`FAMILIES`), so two individuals of
one family still differ (stripe count and phase, spot places and sizes, midline width...).

Distinctness is measured on pixels, not on parameters: :func:`canonical_image` draws a
look at a fixed pose without noise and :func:`look_distance` is the RMS grey-level
difference over the pixels either animal covers. ``ignore_brightness=True`` compares the
two looks at the same base brightness, so a clip whose animals are pairwise distinct under
it is never separable by brightness alone. :func:`sample_distinct_looks` draws looks from
per-animal seeds with rejection on both distances (and on a set of forbidden looks, which
is how the training pool is kept apart from the test individuals).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import attrs
import numpy as np

from dreem.synth.render import BACKGROUND, WIDTH_RATIO, ellipse_window

N_PARAMS = 9  # fixed length of Look.params (families use a prefix)
CANONICAL_LENGTH = 32.0  # body length (px) of the canonical image
CANONICAL_SIZE = 56  # side (px) of the canonical image


@attrs.define(frozen=True)
class Look:
    """One individual's appearance (grey levels 0-255, lengths in body lengths).

    ``family`` names a texture in :data:`FAMILIES` and ``params`` its continuous parameters;
    ``contrast`` scales the texture around ``brightness``. ``cap_start`` (``u`` where the
    head cap begins) and ``cap_dark`` (its brightness factor) make the head. Wings: two
    ellipses of length ``wing_length`` and width ``wing_width`` hinged at the thorax,
    pointing backwards at ``±wing_angle`` radians, grey ``wing_grey`` at ``wing_opacity``
    (0 = no wings). ``scale`` multiplies the body length.
    """

    brightness: float
    family: str
    params: tuple[float, ...]
    contrast: float
    scale: float
    cap_start: float
    cap_dark: float
    wing_length: float
    wing_width: float
    wing_angle: float
    wing_opacity: float
    wing_grey: float

    def to_dict(self) -> dict:
        """JSON-friendly fields."""
        return {**attrs.asdict(self), "params": list(self.params)}

    @classmethod
    def from_dict(cls, data: dict) -> Look:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "params": tuple(float(p) for p in data["params"])})


def _soft(x: np.ndarray, sharp: float = 6.0) -> np.ndarray:
    """A smooth sign in [-1, 1] (crisp but anti-aliased pattern edges)."""
    return np.tanh(sharp * x)


def _uniform(u: np.ndarray, v: np.ndarray, p: Sequence[float]) -> np.ndarray:
    return np.zeros_like(u)


def _stripes(u, v, p):
    """Transverse stripes: p0 cycles per body length, p1 phase, p2 duty offset."""
    return _soft(np.sin(np.pi * (p[0] * u + 2 * p[1])) + p[2])


def _spots(u, v, p):
    """Up to three round spots: (u, v, radius) in p0-p8 (radius 0 = absent)."""
    out = np.full_like(u, 0.35)
    for k in range(3):
        cu, cv, r = p[3 * k], p[3 * k + 1], p[3 * k + 2]
        if r <= 0:
            continue
        d = np.sqrt((u - cu) ** 2 + ((v - cv) * WIDTH_RATIO) ** 2) / (r * WIDTH_RATIO)
        out = np.minimum(out, _soft(d - 1.0, 4.0))
    return out


def _midline(u, v, p):
    """A stripe along the body: half-width p0 (in v units), sign p1."""
    return p[1] * _soft(p[0] - np.abs(v), 8.0)


def _half(u, v, p):
    """Front and back halves shaded differently: split at u = p0, sign p1."""
    return p[1] * _soft(u - p[0], 5.0)


def _checker(u, v, p):
    """Checker: p0 cycles along the body, p1 phase, split across the midline."""
    return _soft(np.sin(np.pi * (p[0] * u + 2 * p[1]))) * _soft(v, 8.0)


def _band(u, v, p):
    """One transverse band centred at u = p0, half-width p1, sign p2."""
    return p[2] * _soft(p[1] - np.abs(u - p[0]), 8.0)


# family -> (modulation in [-1, 1] at body coordinates, parameter sampler)
FAMILIES: dict[str, Callable[[np.ndarray, np.ndarray, Sequence[float]], np.ndarray]] = {
    "uniform": _uniform,
    "stripes": _stripes,
    "spots": _spots,
    "midline": _midline,
    "half": _half,
    "checker": _checker,
    "band": _band,
}


def _sample_params(rng: np.random.Generator, family: str) -> list[float]:
    """Continuous parameters of one family (see the family functions)."""
    sign = float(rng.choice([-1.0, 1.0]))
    if family == "stripes":
        return [rng.uniform(1.5, 4.5), rng.uniform(0, 1), rng.uniform(-0.4, 0.4)]
    if family == "spots":
        n = int(rng.integers(1, 4))
        out: list[float] = []
        for k in range(3):
            r = rng.uniform(0.45, 0.85) if k < n else 0.0
            out += [rng.uniform(-0.7, 0.4), rng.uniform(-0.5, 0.5), r]
        return out
    if family == "midline":
        return [rng.uniform(0.15, 0.55), sign]
    if family == "half":
        return [rng.uniform(-0.4, 0.4), sign]
    if family == "checker":
        return [rng.uniform(1.0, 3.0), rng.uniform(0, 1)]
    if family == "band":
        return [rng.uniform(-0.6, 0.4), rng.uniform(0.12, 0.3), sign]
    return []


def sample_look(rng: np.random.Generator) -> Look:
    """Draw one individual from the appearance space."""
    family = str(rng.choice(list(FAMILIES)))
    params = _sample_params(rng, family)
    params = tuple(float(x) for x in params + [0.0] * (N_PARAMS - len(params)))
    has_wings = rng.random() < 0.75
    return Look(
        brightness=float(rng.uniform(100.0, 215.0)),
        family=family,
        params=params,
        contrast=float(rng.uniform(50.0, 95.0)),
        scale=float(rng.uniform(0.85, 1.15)),
        cap_start=float(rng.uniform(0.5, 0.75)),
        cap_dark=float(rng.uniform(0.35, 0.75)),
        wing_length=float(rng.uniform(0.35, 0.7)),
        wing_width=float(rng.uniform(0.12, 0.22)),
        wing_angle=float(rng.uniform(np.radians(12), np.radians(45))),
        wing_opacity=float(rng.uniform(0.3, 0.7)) if has_wings else 0.0,
        wing_grey=float(rng.uniform(150.0, 235.0)),
    )


def body_texture(look: Look, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Grey level of ``look``'s body at body coordinates ``u, v`` (head cap included)."""
    if look.family not in FAMILIES:
        raise ValueError(f"unknown pattern family {look.family!r}; expected one of {FAMILIES}")
    value = look.brightness + 0.5 * look.contrast * FAMILIES[look.family](u, v, look.params)
    return np.where(u > look.cap_start, look.cap_dark * value, value)


def wing_ellipses(
    look: Look, x: float, y: float, heading: float, body_length: float
) -> list[tuple[float, float, float, float, float]]:
    """The two wings of an animal at ``(x, y)``: ``(cx, cy, a, b, angle)`` each (pixels)."""
    if look.wing_opacity <= 0:
        return []
    length = body_length * look.scale
    half = 0.5 * length
    hinge = (x + 0.15 * half * np.cos(heading), y + 0.15 * half * np.sin(heading))
    a, b = 0.5 * look.wing_length * length, 0.5 * look.wing_width * length
    out = []
    for side in (-1.0, 1.0):
        ang = heading + np.pi + side * look.wing_angle
        out.append((hinge[0] + a * np.cos(ang), hinge[1] + a * np.sin(ang), a, b, ang))
    return out


def draw_animal(
    canvas: np.ndarray, look: Look, x: float, y: float, heading: float, body_length: float
) -> None:
    """Draw one animal (wings, then body) onto ``canvas`` (H, W) float32 in place."""
    for cx, cy, a, b, ang in wing_ellipses(look, x, y, heading, body_length):
        window = ellipse_window(canvas.shape, cx, cy, a, b, ang)
        if window is None:
            continue
        ys, xs, u, v = window
        alpha = look.wing_opacity * np.clip(0.5 + (1.0 - np.sqrt(u**2 + v**2)) * b, 0.0, 1.0)
        patch = canvas[ys, xs]
        patch += alpha * (look.wing_grey - patch)
    a = 0.5 * body_length * look.scale
    b = WIDTH_RATIO * a
    window = ellipse_window(canvas.shape, x, y, a, b, heading)
    if window is None:
        return
    ys, xs, u, v = window
    alpha = np.clip(0.5 + (1.0 - np.sqrt(u**2 + v**2)) * b, 0.0, 1.0)  # ~1 px soft edge
    patch = canvas[ys, xs]
    patch += alpha * (body_texture(look, u, v) - patch)


def canonical_image(look: Look) -> np.ndarray:
    """``look`` drawn noise-free at the centre of a small square, heading +x (float32).

    Cached per look; the returned array is read-only."""
    return _canonical(look)


@functools.lru_cache(maxsize=4096)
def _canonical(look: Look) -> np.ndarray:
    canvas = np.full((CANONICAL_SIZE, CANONICAL_SIZE), BACKGROUND, np.float32)
    c = CANONICAL_SIZE / 2.0
    draw_animal(canvas, look, c, c, 0.0, CANONICAL_LENGTH)
    canvas.setflags(write=False)
    return canvas


def look_distance(a: Look, b: Look, ignore_brightness: bool = False) -> float:
    """RMS grey-level difference of the canonical images over the pixels either covers.

    With ``ignore_brightness`` both are drawn at ``a``'s base brightness: what is left is
    pattern, cap, size and wings.
    """
    if ignore_brightness:
        b = attrs.evolve(b, brightness=a.brightness)
    ia, ib = canonical_image(a), canonical_image(b)
    covered = (np.abs(ia - BACKGROUND) > 1.0) | (np.abs(ib - BACKGROUND) > 1.0)
    if not covered.any():
        return 0.0
    return float(np.sqrt(np.mean((ia[covered] - ib[covered]) ** 2)))


@attrs.define(frozen=True)
class Distinctness:
    """Rejection thresholds (grey levels): ``min_distance`` on the full look and
    ``min_pattern_distance`` with brightness equalised; ``max_tries`` per animal."""

    min_distance: float = 30.0
    min_pattern_distance: float = 18.0
    max_tries: int = 400


def is_distinct(look: Look, others: Sequence[Look], rule: Distinctness) -> bool:
    """True when ``look`` passes both thresholds against every look of ``others``."""
    for other in others:
        if look_distance(look, other) < rule.min_distance:
            return False
        if look_distance(look, other, ignore_brightness=True) < rule.min_pattern_distance:
            return False
    return True


def sample_distinct_looks(
    seeds: Sequence[Callable[[int], np.random.Generator]],
    rule: Distinctness = Distinctness(),
    forbidden: Sequence[Look] = (),
) -> list[Look]:
    """One look per entry of ``seeds``, pairwise distinct and distinct from ``forbidden``.

    ``seeds[k](attempt)`` returns the generator for animal ``k``'s ``attempt``-th draw, so
    each animal's look depends only on its own seed stream. Raises ``RuntimeError`` when an
    animal finds no acceptable look in ``rule.max_tries`` draws.
    """
    looks: list[Look] = []
    for k, make_rng in enumerate(seeds):
        for attempt in range(rule.max_tries):
            cand = sample_look(make_rng(attempt))
            if is_distinct(cand, looks, rule) and is_distinct(cand, forbidden, rule):
                looks.append(cand)
                break
        else:
            raise RuntimeError(
                f"no distinct look for animal {k} in {rule.max_tries} tries; "
                "lower the Distinctness thresholds or use fewer animals"
            )
    return looks
