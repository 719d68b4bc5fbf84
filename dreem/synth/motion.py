"""Trajectories of synthetic animals: momentum, random turning, mutual attraction, walls.

Every animal moves forward along its heading. Each one chases a randomly chosen other animal
(re-picked now and then) and keeps going when it reaches it, so animals often meet, touch
and cross. Turning has momentum (an angular velocity that decays), speed follows a
mean-reverting random walk, and the arena walls reflect both position and heading.
"""

from __future__ import annotations

import attrs
import numpy as np


@attrs.define(frozen=True)
class MotionParams:
    """Parameters of the animal motion model (lengths in pixels, angles in radians)."""

    body_length: float = 24.0
    speed: float = 0.6  # mean speed in body lengths per frame
    speed_jitter: float = 0.15  # std of the per-frame speed change, body lengths
    max_speed: float = 1.2  # body lengths per frame
    attraction: float = 0.35  # steering gain toward the chased animal
    turn_noise: float = 0.25  # std of the random angular acceleration
    turn_momentum: float = 0.6  # fraction of the angular velocity kept each frame
    retarget_prob: float = 0.04  # chance per frame to pick another animal to chase


@attrs.define(frozen=True)
class Trajectories:
    """Ground-truth motion of all animals.

    ``xy``: (n_frames, n_animals, 2) body centres as (x, y); ``heading``: (n_frames,
    n_animals) radians, 0 = +x, positive towards +y (image down).
    """

    xy: np.ndarray
    heading: np.ndarray


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _reflect(pos: np.ndarray, heading: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Reflect positions (n, 2) off the box [lo, hi] in place, mirroring headings."""
    for axis in (0, 1):
        below = pos[:, axis] < lo[axis]
        above = pos[:, axis] > hi[axis]
        pos[below, axis] = 2 * lo[axis] - pos[below, axis]
        pos[above, axis] = 2 * hi[axis] - pos[above, axis]
        hit = below | above
        heading[hit] = (np.pi - heading[hit]) if axis == 0 else -heading[hit]
    np.clip(pos, lo, hi, out=pos)


def simulate(
    rng: np.random.Generator,
    n_animals: int,
    n_frames: int,
    size: tuple[int, int],
    params: MotionParams,
) -> Trajectories:
    """Simulate ``n_frames`` steps for ``n_animals`` in an arena of ``size`` = (height, width)."""
    height, width = size
    length = params.body_length
    margin = 0.6 * length
    lo = np.array([margin, margin])
    hi = np.array([width - margin, height - margin])
    if np.any(hi <= lo):
        raise ValueError(f"arena {size} is too small for body_length {length}")

    pos = rng.uniform(lo, hi, size=(n_animals, 2))
    heading = rng.uniform(-np.pi, np.pi, size=n_animals)
    omega = np.zeros(n_animals)
    speed = np.full(n_animals, params.speed * length)
    target = _pick_targets(rng, n_animals, np.arange(n_animals))

    xy = np.empty((n_frames, n_animals, 2))
    headings = np.empty((n_frames, n_animals))
    for t in range(n_frames):
        xy[t], headings[t] = pos, _wrap(heading)
        repick = rng.random(n_animals) < params.retarget_prob
        target[repick] = _pick_targets(rng, n_animals, np.flatnonzero(repick))
        to_target = pos[target] - pos
        dist = np.hypot(to_target[:, 0], to_target[:, 1])
        desired = np.arctan2(to_target[:, 1], to_target[:, 0])
        steer = params.attraction * _wrap(desired - heading) * (dist > length)
        if n_animals < 2:
            steer[:] = 0.0
        omega = params.turn_momentum * omega + steer * (1 - params.turn_momentum)
        omega += rng.normal(0.0, params.turn_noise, n_animals)
        omega = np.clip(omega, -0.8, 0.8)
        heading = heading + omega
        speed += 0.2 * (params.speed * length - speed)
        speed += rng.normal(0.0, params.speed_jitter * length, n_animals)
        speed = np.clip(speed, 0.1 * length, params.max_speed * length)
        pos = pos + speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        _reflect(pos, heading, lo, hi)
    return Trajectories(xy=xy, heading=headings)


def _pick_targets(rng: np.random.Generator, n_animals: int, who: np.ndarray) -> np.ndarray:
    """For each animal index in ``who`` pick another animal (itself if it is alone)."""
    if n_animals < 2:
        return np.zeros(len(who), dtype=int)
    offset = rng.integers(1, n_animals, size=len(who))
    return (who + offset) % n_animals
