"""Hard trajectories for identity clips: fast animals that pause, dash, chase and cross.

Each animal is in one of three gaits (walk, pause, dash), switching as a Markov chain, and
its speed relaxes quickly toward the gait's speed, so velocity changes abruptly (the case
that breaks constant-velocity linkers). Every animal chases another one (re-picked now and
then) with steering gain ``attraction`` and keeps going when it reaches it, so animals meet,
touch and cross. Headings turn with momentum and noise; the arena walls reflect position
and heading. The returned :class:`~dreem.synth.motion.Trajectories` are in pixels.
"""

from __future__ import annotations

import attrs
import numpy as np

from dreem.synth.motion import Trajectories, _pick_targets, _reflect, _wrap

WALK, PAUSE, DASH = 0, 1, 2


@attrs.define(frozen=True)
class ChaseParams:
    """Motion parameters (lengths in body lengths per frame, angles in radians).

    ``speed`` is the walking speed; ``pause_speed`` / ``dash_speed`` those of the other
    gaits. ``p_pause`` / ``p_dash`` are the per-frame chances that a walking animal starts
    a pause / dash; ``p_resume`` the chance per frame that a pause or dash ends.
    """

    speed: float = 0.75
    speed_jitter: float = 0.1
    pause_speed: float = 0.03
    dash_speed: float = 1.6
    p_pause: float = 0.02
    p_dash: float = 0.03
    p_resume: float = 0.15
    speed_gain: float = 0.6  # fraction of the gap to the gait speed closed each frame
    attraction: float = 0.5
    turn_noise: float = 0.3
    turn_momentum: float = 0.5
    max_turn: float = 0.9
    retarget_prob: float = 0.03


def _next_gait(rng: np.random.Generator, gait: np.ndarray, p: ChaseParams) -> np.ndarray:
    """One Markov step of every animal's gait."""
    r = rng.random(len(gait))
    out = gait.copy()
    walking = gait == WALK
    out[walking & (r < p.p_pause)] = PAUSE
    out[walking & (r >= p.p_pause) & (r < p.p_pause + p.p_dash)] = DASH
    out[~walking & (r < p.p_resume)] = WALK
    return out


def simulate_chase(
    rng: np.random.Generator,
    n_animals: int,
    n_frames: int,
    size: tuple[int, int],
    body_length: float,
    params: ChaseParams = ChaseParams(),
) -> tuple[Trajectories, np.ndarray]:
    """Simulate ``n_frames`` steps in an arena of ``size`` = (height, width) pixels.

    Returns the trajectories and the gaits ``(n_frames, n_animals)`` (0 walk, 1 pause,
    2 dash) of each frame.
    """
    height, width = size
    margin = 0.6 * body_length
    lo = np.array([margin, margin])
    hi = np.array([width - margin, height - margin])
    if np.any(hi <= lo):
        raise ValueError(f"arena {size} is too small for body_length {body_length}")
    gait_speed = np.array([params.speed, params.pause_speed, params.dash_speed]) * body_length

    pos = rng.uniform(lo, hi, size=(n_animals, 2))
    heading = rng.uniform(-np.pi, np.pi, size=n_animals)
    omega = np.zeros(n_animals)
    gait = np.zeros(n_animals, dtype=np.int64)
    speed = gait_speed[gait].copy()
    target = _pick_targets(rng, n_animals, np.arange(n_animals))

    xy = np.empty((n_frames, n_animals, 2))
    headings = np.empty((n_frames, n_animals))
    gaits = np.empty((n_frames, n_animals), dtype=np.int8)
    for t in range(n_frames):
        xy[t], headings[t], gaits[t] = pos, _wrap(heading), gait
        repick = rng.random(n_animals) < params.retarget_prob
        target[repick] = _pick_targets(rng, n_animals, np.flatnonzero(repick))
        to_target = pos[target] - pos
        dist = np.hypot(to_target[:, 0], to_target[:, 1])
        desired = np.arctan2(to_target[:, 1], to_target[:, 0])
        steer = params.attraction * _wrap(desired - heading) * (dist > body_length)
        if n_animals < 2:
            steer[:] = 0.0
        omega = params.turn_momentum * omega + (1 - params.turn_momentum) * steer
        omega += rng.normal(0.0, params.turn_noise, n_animals)
        omega = np.clip(omega, -params.max_turn, params.max_turn)
        heading = heading + omega
        gait = _next_gait(rng, gait, params)
        speed += params.speed_gain * (gait_speed[gait] - speed)
        speed += rng.normal(0.0, params.speed_jitter * body_length, n_animals)
        speed = np.clip(speed, 0.0, 1.1 * params.dash_speed * body_length)
        pos = pos + speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        _reflect(pos, heading, lo, hi)
    return Trajectories(xy=xy, heading=headings), gaits
