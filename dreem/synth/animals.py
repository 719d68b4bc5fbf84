"""Synthetic multi-animal clips: an H.264 ``.mp4`` plus a SLEAP ``.slp`` with ground truth.

The clip is built so position alone is ambiguous (fast animals that chase each other,
touch and cross) while appearance is decisive (each animal has a distinct, stable look);
see :mod:`dreem.synth.motion` and :mod:`dreem.synth.render`. Output layout, next to each
other in ``out_dir``: ``{name}.mp4`` (grayscale content, yuv420p, readable by OpenCV) and
``{name}.slp`` whose video path is the bare file name ``{name}.mp4`` (sleap-io resolves it
next to the ``.slp``, so the folder can be moved). Every frame is labelled; each animal is a
user ``Instance`` with nodes ``head, thorax, abdomen, wingL, wingR`` on its own ``Track``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dreem.synth.motion import MotionParams, simulate
from dreem.synth.render import (
    EDGES,
    NODE_NAMES,
    make_appearances,
    pose_points,
    render_frames,
)
from dreem.utils.atomic import atomic_path


def generate_animals(
    out_dir: Path,
    name: str,
    seed: int,
    n_animals: int = 4,
    n_frames: int = 200,
    size: tuple[int, int] = (256, 256),
    fps: int = 25,
    body_length: float = 24.0,
    speed: float = 0.6,
    noise_std: float = 6.0,
) -> tuple[Path, Path]:
    """Write ``{name}.mp4`` and ``{name}.slp`` into ``out_dir``; return (slp path, mp4 path).

    ``size`` is (height, width) in pixels and must be even (yuv420p). ``body_length`` is the
    mean body length in pixels, ``speed`` the mean speed in body lengths per frame (it
    varies up to 1.2), ``noise_std`` the std of the Gaussian pixel noise. The same
    arguments always give the same poses and the same decoded frames.
    """
    height, width = (int(v) for v in size)
    if n_animals < 1 or n_frames < 1:
        raise ValueError(f"n_animals and n_frames must be >= 1, got {n_animals}, {n_frames}")
    if height % 2 or width % 2 or height < 16 or width < 16:
        raise ValueError(f"size must be even and >= 16 (height, width), got {size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    motion_rng, look_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3)
    )
    params = MotionParams(body_length=body_length, speed=speed)
    traj = simulate(motion_rng, n_animals, n_frames, (height, width), params)
    appearances = make_appearances(look_rng, n_animals)
    scales = np.array([a.scale for a in appearances])
    poses = np.stack(
        [pose_points(traj.xy[t], traj.heading[t], body_length, scales) for t in range(n_frames)]
    )
    frames = render_frames(
        noise_rng, traj.xy, traj.heading, appearances, (height, width), body_length, noise_std
    )

    mp4_path = out_dir / f"{name}.mp4"
    slp_path = out_dir / f"{name}.slp"
    write_gray_mp4(frames, mp4_path, fps)
    write_pose_slp(poses, slp_path, video_name=mp4_path.name, shape=frames.shape, fps=fps)
    return slp_path, mp4_path


def write_gray_mp4(frames: np.ndarray, path: Path, fps: int, preset: str = "veryfast") -> Path:
    """Encode (n_frames, H, W) uint8 frames as H.264 yuv420p at ``path``, atomically.

    Single-threaded and bit-exact flags make the output reproducible on one machine.
    ``preset`` is the x264 speed preset (``ultrafast`` encodes noisy frames ~4x faster, in
    larger files).
    """
    import imageio_ffmpeg

    n_frames, height, width = frames.shape
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            size=(width, height),
            fps=fps,
            codec="libx264",
            pix_fmt_in="gray",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=[
                *("-crf", "18", "-preset", preset, "-threads", "1"),
                *("-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"),
            ],
        )
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
    return path


def write_pose_slp(
    poses: np.ndarray,
    path: Path,
    video_name: str,
    shape: tuple[int, int, int],
    fps: int,
    visible: np.ndarray | None = None,
    tracked: bool = True,
) -> Path:
    """Save ground-truth ``poses`` (n_frames, n_animals, n_nodes, 2) as a ``.slp``, atomically.

    Animal ``k`` is track ``track_{k}`` in every frame. The video is stored by its bare name
    ``video_name`` with shape ``shape`` = (n_frames, H, W) and grayscale metadata.
    ``visible`` (n_frames, n_animals) bool leaves out the instances that are False (a frame
    with none is left out). ``tracked=False`` writes untracked ``PredictedInstance``s (score
    1, no tracks): the detections a tracker starts from.
    """
    import sleap_io as sio

    skeleton = sio.Skeleton(nodes=list(NODE_NAMES), edges=[list(e) for e in EDGES], name="synth")
    n_frames, n_animals = poses.shape[:2]
    if visible is None:
        visible = np.ones((n_frames, n_animals), dtype=bool)
    tracks = [sio.Track(name=f"track_{k}") for k in range(n_animals)] if tracked else []
    video = sio.Video(
        filename=video_name,
        backend_metadata={"shape": (*shape, 1), "grayscale": True, "fps": float(fps)},
        open_backend=False,
    )

    def instance(t: int, k: int):
        pts = poses[t, k].astype(np.float64)
        if tracked:
            return sio.Instance.from_numpy(pts, skeleton, track=tracks[k])
        scores = np.ones(len(pts))
        return sio.PredictedInstance.from_numpy(pts, skeleton, point_scores=scores, score=1.0)

    frames = [
        sio.LabeledFrame(
            video=video,
            frame_idx=t,
            instances=[instance(t, k) for k in range(n_animals) if visible[t, k]],
        )
        for t in range(n_frames)
        if visible[t].any()
    ]
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=tracks)
    with atomic_path(path) as tmp:
        sio.save_slp(labels, str(tmp))
    return path


def write_predictions(
    slp_path: Path, out_path: Path, seed: int = 0, miss_rate: float = 0.0
) -> Path:
    """What a pose model would give for a generated clip: its animals as untracked
    ``PredictedInstance``s (score 1, no tracks) at ``out_path`` (e.g.
    ``clip.predictions.slp`` next to ``clip.mp4``), each instance missing with probability
    ``miss_rate`` (seeded). The video keeps its bare name and metadata."""
    import sleap_io as sio

    labels = sio.load_slp(str(slp_path), open_videos=False)
    video = labels.videos[0]
    frames = sorted(labels.labeled_frames, key=lambda lf: lf.frame_idx)
    n_animals = max(len(lf.instances) for lf in frames)
    n_frames = int(frames[-1].frame_idx) + 1
    n_nodes = len(labels.skeletons[0].nodes)
    poses = np.full((n_frames, n_animals, n_nodes, 2), np.nan)
    present = np.zeros((n_frames, n_animals), bool)
    for lf in frames:
        for k, inst in enumerate(lf.instances):
            poses[lf.frame_idx, k] = inst.numpy()
            present[lf.frame_idx, k] = True
    keep = np.random.default_rng(seed).random(present.shape) >= miss_rate
    meta = dict(video.backend_metadata or {})
    shape = tuple(meta.get("shape", (n_frames, 0, 0, 1)))[:3]
    fps = float(meta.get("fps", 25.0))
    name = Path(str(video.filename)).name
    return write_pose_slp(
        poses, Path(out_path), name, shape, fps, visible=present & keep, tracked=False
    )
