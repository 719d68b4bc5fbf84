"""Hard identity clips: animals that position cannot tell apart but appearance can.

A clip (:class:`IdentityClip`) is simulated from a :class:`ClipSpec` and a seed: fast
trajectories with pauses, dashes and chases (:mod:`dreem.synth.chase`), one distinct
:class:`~dreem.synth.looks.Look` per animal, optional **static occluders** (opaque shapes
drawn over the animals; an animal whose body centre is under one has no detection in that
frame) and optional **detection gaps** (an animal's detection missing for 1-3 frames now
and then, while it stays visible in the video).

:func:`write_identity_clip` writes ``{name}.mp4`` (grey H.264, as the demo clips),
``{name}.slp`` (ground truth: user instances on tracks ``track_{k}``, nodes ``head, thorax,
abdomen, wingL, wingR``, video by bare file name; a missing detection is a missing instance)
and ``{name}.json`` (looks, occluders, masks summary). :func:`write_untracked_slp` writes
the same detections as untracked ``PredictedInstance``s for peer trackers.

The same spec, seed and looks give identical labels and identical decoded frames.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np

from dreem.synth.animals import write_gray_mp4, write_pose_slp
from dreem.synth.chase import ChaseParams, simulate_chase
from dreem.synth.looks import Distinctness, Look, draw_animal, sample_distinct_looks
from dreem.synth.render import BACKGROUND, pose_points
from dreem.utils.atomic import write_text_atomic

GAP_LENGTHS = (1, 2, 3)
LOOKS_KEY = 0x1D  # entropy word of a clip's own look streams


def look_stream(*key: int) -> Callable[[int], np.random.Generator]:
    """``attempt -> Generator`` for one animal's look draws, seeded by the int ``key``."""
    words = [int(k) for k in key]
    return lambda attempt: np.random.default_rng(np.random.SeedSequence([*words, int(attempt)]))


@attrs.define(frozen=True)
class ClipSpec:
    """What one identity clip looks like (pixels unless noted).

    ``size`` is (height, width), even. ``speed`` is the walking speed in body lengths per
    frame (see :class:`~dreem.synth.chase.ChaseParams` for pauses and dashes);
    ``attraction`` the chase steering gain. ``n_occluders`` static occluders of semi-axes
    ``occluder_size`` body lengths (range). ``gap_rate``: per-frame chance that a detected
    animal's detection starts a 1-3-frame gap.
    """

    n_animals: int = 4
    n_frames: int = 300
    size: tuple[int, int] = (512, 512)
    fps: int = 25
    body_length: float = 28.0
    speed: float = 0.75
    pause_prob: float = 0.02
    dash_prob: float = 0.03
    dash_speed: float = 1.6
    attraction: float = 0.5
    n_occluders: int = 0
    occluder_size: tuple[float, float] = (0.8, 1.6)
    gap_rate: float = 0.0
    noise_std: float = 6.0

    def __attrs_post_init__(self) -> None:
        h, w = self.size
        if self.n_animals < 1 or self.n_frames < 1:
            raise ValueError(f"n_animals and n_frames must be >= 1: {self}")
        if h % 2 or w % 2 or h < 16 or w < 16:
            raise ValueError(f"size must be even and >= 16 (height, width), got {self.size}")
        if not 0.0 <= self.gap_rate < 1.0:
            raise ValueError(f"gap_rate must be in [0, 1), got {self.gap_rate}")

    def chase_params(self) -> ChaseParams:
        """The motion parameters of this spec."""
        return ChaseParams(
            speed=self.speed,
            p_pause=self.pause_prob,
            p_dash=self.dash_prob,
            dash_speed=self.dash_speed,
            attraction=self.attraction,
        )

    def to_dict(self) -> dict:
        """JSON-friendly fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> ClipSpec:
        """A spec from :meth:`to_dict` output (or a subset of keys; others default)."""
        names = {f.name for f in attrs.fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise ValueError(f"unknown ClipSpec key(s) {bad}; valid: {sorted(names)}")
        conv = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**conv)


@attrs.define(frozen=True)
class Occluder:
    """A static opaque shape: an ellipse or a rotated rectangle of grey ``grey``."""

    kind: str  # "ellipse" | "rect"
    x: float
    y: float
    a: float  # half-length along ``angle``
    b: float  # half-width across
    angle: float
    grey: float


@attrs.define(frozen=True)
class IdentityClip:
    """A simulated clip: trajectories, looks, occluders and detection masks.

    Arrays: ``xy`` (T, N, 2) body centres (x, y); ``heading`` (T, N); ``gait`` (T, N)
    0 walk / 1 pause / 2 dash; ``poses`` (T, N, 5, 2); ``occluded`` and ``gap`` (T, N)
    bool: no detection because the centre is under an occluder / because of a gap.
    """

    spec: ClipSpec
    seed: int
    looks: tuple[Look, ...]
    occluders: tuple[Occluder, ...]
    xy: np.ndarray
    heading: np.ndarray
    gait: np.ndarray
    poses: np.ndarray
    occluded: np.ndarray
    gap: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        """(T, N) bool: the animal has a detection (an instance in the labels)."""
        return ~(self.occluded | self.gap)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    names = ("motion", "occluders", "gaps", "noise")
    seqs = np.random.SeedSequence(int(seed)).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, seqs, strict=True)}


def sample_occluders(
    rng: np.random.Generator,
    n: int,
    size: tuple[int, int],
    body_length: float,
    semi_axes: tuple[float, float] = (0.8, 1.6),
) -> tuple[Occluder, ...]:
    """``n`` occluders placed in the inner part of the arena, semi-axes in body lengths."""
    height, width = size
    out = []
    for _ in range(n):
        a, b = np.sort(rng.uniform(*semi_axes, size=2))[::-1] * body_length
        out.append(
            Occluder(
                kind=str(rng.choice(["ellipse", "rect"])),
                x=float(rng.uniform(0.2, 0.8) * width),
                y=float(rng.uniform(0.2, 0.8) * height),
                a=float(a),
                b=float(b),
                angle=float(rng.uniform(-np.pi, np.pi)),
                grey=float(rng.uniform(70.0, 120.0)),
            )
        )
    return tuple(out)


def occluder_coverage(occluders: tuple[Occluder, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Opacity in [0, 1] of the occluders at points ``x, y`` (any equal shapes, pixels);
    about 1 px of soft edge. Overlapping occluders: the maximum."""
    x = np.asarray(x, np.float64)
    alpha = np.zeros(np.broadcast_shapes(x.shape, np.shape(y)))
    for occ in occluders:
        c, s = np.cos(occ.angle), np.sin(occ.angle)
        dx, dy = x - occ.x, np.asarray(y, np.float64) - occ.y
        u = (dx * c + dy * s) / occ.a
        v = (-dx * s + dy * c) / occ.b
        if occ.kind == "ellipse":
            inside = (1.0 - np.sqrt(u**2 + v**2)) * occ.b
        else:
            inside = np.minimum((1.0 - np.abs(u)) * occ.a, (1.0 - np.abs(v)) * occ.b)
        alpha = np.maximum(alpha, np.clip(0.5 + inside, 0.0, 1.0))
    return alpha


def occluder_layer(
    occluders: tuple[Occluder, ...], size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, grey) images (H, W) float32 of the occluders (the last one on top)."""
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    alpha = np.zeros((height, width))
    grey = np.zeros((height, width))
    for occ in occluders:
        a = occluder_coverage((occ,), xx, yy)
        grey = np.where(a > 0, occ.grey, grey)
        alpha = np.maximum(alpha, a)
    return alpha.astype(np.float32), grey.astype(np.float32)


def detection_gaps(rng: np.random.Generator, n_frames: int, n_animals: int, rate: float):
    """(T, N) bool: True where an animal's detection is dropped by a gap.

    Each frame outside a gap starts a gap with probability ``rate``; its length is drawn
    uniformly from 1-3 and clipped at the clip's end. Gaps never touch each other (a
    detected frame always separates two), so every run of True is 1-3 frames long.
    """
    gap = np.zeros((n_frames, n_animals), dtype=bool)
    if rate <= 0:
        return gap
    starts = rng.random((n_frames, n_animals)) < rate
    lengths = rng.choice(GAP_LENGTHS, size=(n_frames, n_animals))
    for k in range(n_animals):
        t = 1  # the first frame is always detected
        while t < n_frames:
            if starts[t, k]:
                gap[t : t + lengths[t, k], k] = True
                t += lengths[t, k] + 1
            else:
                t += 1
    return gap


def simulate_identity_clip(
    spec: ClipSpec,
    seed: int,
    looks: tuple[Look, ...] | list[Look] | None = None,
    distinct: Distinctness = Distinctness(),
) -> IdentityClip:
    """Simulate one clip. ``looks`` (one per animal) default to distinct looks drawn from
    the clip's own seed."""
    rngs = _streams(seed)
    if looks is None:
        looks = sample_distinct_looks(
            [look_stream(int(seed) % 2**63, LOOKS_KEY, k) for k in range(spec.n_animals)],
            distinct,
        )
    looks = tuple(looks)
    if len(looks) != spec.n_animals:
        raise ValueError(f"{len(looks)} looks given for {spec.n_animals} animals")
    traj, gait = simulate_chase(
        rngs["motion"],
        spec.n_animals,
        spec.n_frames,
        spec.size,
        spec.body_length,
        spec.chase_params(),
    )
    occluders = sample_occluders(
        rngs["occluders"], spec.n_occluders, spec.size, spec.body_length, spec.occluder_size
    )
    occluded = occluder_coverage(occluders, traj.xy[..., 0], traj.xy[..., 1]) >= 0.5
    gap = detection_gaps(rngs["gaps"], spec.n_frames, spec.n_animals, spec.gap_rate) & ~occluded
    scales = np.array([lk.scale for lk in looks])
    poses = np.stack(
        [
            pose_points(traj.xy[t], traj.heading[t], spec.body_length, scales)
            for t in range(spec.n_frames)
        ]
    )
    return IdentityClip(
        spec=spec,
        seed=int(seed),
        looks=looks,
        occluders=occluders,
        xy=traj.xy,
        heading=traj.heading,
        gait=gait,
        poses=poses,
        occluded=occluded,
        gap=gap,
    )


def _background(size: tuple[int, int]) -> np.ndarray:
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = 8.0 * np.sin(xx / width * np.pi) * np.sin(yy / height * np.pi)  # static vignette
    return (BACKGROUND + ramp).astype(np.float32)


def frame_layers(clip: IdentityClip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The static layers of a clip: background, occluder alpha and occluder grey (H, W)."""
    return (_background(clip.spec.size), *occluder_layer(clip.occluders, clip.spec.size))


def render_clean_frame(
    clip: IdentityClip,
    t: int,
    animals: list[int] | None = None,
    layers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Frame ``t`` without noise (H, W) float32, drawing only ``animals`` (default all).
    ``layers``: :func:`frame_layers` of the clip, to reuse across frames."""
    spec = clip.spec
    background, alpha, grey = frame_layers(clip) if layers is None else layers
    canvas = background.copy()
    for k in range(spec.n_animals) if animals is None else animals:
        x, y = clip.xy[t, k]
        draw_animal(canvas, clip.looks[k], x, y, clip.heading[t, k], spec.body_length)
    if clip.occluders:
        canvas += alpha * (grey - canvas)
    return canvas


def render_identity_frames(clip: IdentityClip) -> np.ndarray:
    """All frames (T, H, W) uint8: background, animals in index (z) order, occluders on
    top, Gaussian pixel noise."""
    spec = clip.spec
    rng = _streams(clip.seed)["noise"]
    layers = frame_layers(clip)
    frames = np.empty((spec.n_frames, *spec.size), dtype=np.uint8)
    for t in range(spec.n_frames):
        canvas = render_clean_frame(clip, t, layers=layers)
        canvas += rng.standard_normal(spec.size, dtype=np.float32) * spec.noise_std
        np.clip(canvas, 0, 255, out=canvas)
        frames[t] = np.rint(canvas)
    return frames


def clip_summary(clip: IdentityClip, keys: list[str] | None = None) -> dict:
    """JSON-friendly description: spec, seed, looks (+ individual keys), occluders, counts."""
    spec = clip.spec
    steps = np.linalg.norm(np.diff(clip.xy, axis=0), axis=-1) / spec.body_length
    return {
        "spec": spec.to_dict(),
        "seed": clip.seed,
        "individuals": keys or [f"animal_{k}" for k in range(spec.n_animals)],
        "looks": [lk.to_dict() for lk in clip.looks],
        "occluders": [attrs.asdict(o) for o in clip.occluders],
        "n_detections": int(clip.detected.sum()),
        "n_occluded": int(clip.occluded.sum()),
        "n_gap": int(clip.gap.sum()),
        "mean_speed_bl": float(steps.mean()) if steps.size else 0.0,
        "gait_fraction": {
            g: float((clip.gait == i).mean()) for i, g in enumerate(("walk", "pause", "dash"))
        },
    }


def write_identity_clip(
    clip: IdentityClip, out_dir: Path, name: str, keys: list[str] | None = None
) -> tuple[Path, Path]:
    """Write ``{name}.mp4``, ``{name}.slp`` (ground truth) and ``{name}.json`` into
    ``out_dir``; return (slp, mp4). ``keys`` name the individuals in the JSON."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = clip.spec
    frames = render_identity_frames(clip)
    mp4 = write_gray_mp4(frames, out_dir / f"{name}.mp4", spec.fps, preset="ultrafast")
    slp = write_pose_slp(
        clip.poses,
        out_dir / f"{name}.slp",
        video_name=mp4.name,
        shape=frames.shape,
        fps=spec.fps,
        visible=clip.detected,
    )
    text = json.dumps(clip_summary(clip, keys), indent=1, sort_keys=True) + "\n"
    write_text_atomic(out_dir / f"{name}.json", text)
    return slp, mp4


def write_untracked_slp(clip: IdentityClip, path: Path, video_name: str) -> Path:
    """The clip's detections as untracked ``PredictedInstance``s (score 1) at ``path``,
    the video stored as ``video_name`` (resolved next to the .slp by sleap-io)."""
    spec = clip.spec
    shape = (spec.n_frames, *spec.size)
    return write_pose_slp(
        clip.poses, Path(path), video_name, shape, spec.fps, visible=clip.detected, tracked=False
    )


@attrs.define(frozen=True)
class Detections:
    """A clip's detections as flat per-instance arrays, sorted by frame then animal.

    ``centroid`` (n, 2) is the mean of the pose nodes (as extraction computes it), ``boxes``
    (n, 1, 4) the nodes' tight box as (y1, x1, y2, x2), ``gt_track_id`` the animal index.
    """

    frame_idx: np.ndarray
    gt_track_id: np.ndarray
    centroid: np.ndarray
    boxes: np.ndarray
    poses: np.ndarray


def clip_detections(clip: IdentityClip) -> Detections:
    """The detections of ``clip`` (only detected animals), for trackers and tests."""
    t, k = np.nonzero(clip.detected)
    pts = clip.poses[t, k]
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    boxes = np.stack([lo[:, 1], lo[:, 0], hi[:, 1], hi[:, 0]], axis=1)[:, None, :]
    return Detections(
        frame_idx=t.astype(np.int64),
        gt_track_id=k.astype(np.int64),
        centroid=pts.mean(axis=1),
        boxes=boxes,
        poses=pts,
    )
