"""Draw tracks on the video: coloured boxes, centroids, trails and ids → H.264 mp4.

Frames are decoded sequentially (OpenCV for videos, TIFF reader for CTC raw folders,
auto-contrasted to 8 bit), scaled up by an integer factor when small (so a 64-pixel demo
clip plays at 512 pixels), drawn at that size (ids outlined, legible) and encoded at the
source frame rate with the ffmpeg bundled by imageio-ffmpeg (yuv420p, plays in browsers).
The first rendered frame is also saved as ``{out}.png`` (a thumbnail for the report). Both
files are written atomically.
"""

from __future__ import annotations

import colorsys
from collections import defaultdict, deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from dreem.utils.atomic import atomic_path
from dreem.utils.errors import InputDataError


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-spread RGB colour per track id (golden-ratio hues); grey for -1."""
    if track_id < 0:
        return (160, 160, 160)
    h = (track_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _to_rgb8(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if img.ndim == 2:
        img = img[:, :, None]
    if img.dtype != np.uint8:
        img = np.clip((img.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255)
        img = img.astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def iter_source_frames(source: Path, n: int) -> Iterator[tuple[int, np.ndarray]]:
    """First ``n`` frames of an mp4/avi (sequential decode) or a CTC raw folder, as RGB uint8."""
    source = Path(source)
    if source.is_dir() or source.suffix.lower() in (".tif", ".tiff"):
        from dreem.io.tiff_frames import TiffFrames

        frames = TiffFrames(source)
        sample = np.concatenate([s.ravel() for s in frames.sample(4)])
        lo, hi = (float(x) for x in np.percentile(sample, [0.5, 99.5]))
        for i in range(min(n, len(frames))):
            yield i, _to_rgb8(frames.read(i), lo, hi)
        frames.close()
        return
    import cv2

    if not source.is_file():
        raise InputDataError(f"video file not found: {source}")
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise InputDataError(f"cannot open video {source}")
    try:
        for i in range(n):
            ok, bgr = cap.read()
            if not ok:
                return
            yield i, np.ascontiguousarray(bgr[:, :, ::-1])
    finally:
        cap.release()


def _load_tracks(tracks) -> pd.DataFrame:
    if isinstance(tracks, pd.DataFrame):
        return tracks
    p = Path(tracks)
    if not p.is_file():
        raise InputDataError(f"tracks table not found: {p}")
    return pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)


def scale_factor(height: int, width: int, min_side: int = 480, max_side: int = 1600) -> int:
    """The integer upscaling that makes the short side at least ``min_side`` pixels (small
    clips become watchable; pixels stay crisp) without the long side passing ``max_side``."""
    short, long = min(height, width), max(height, width)
    k = max(1, -(-min_side // max(short, 1)))
    while k > 1 and long * k > max_side:
        k -= 1
    return k


def _text(img: np.ndarray, text: str, org: tuple[int, int], size: float, col) -> None:
    """Text with a dark outline, legible on any background."""
    import cv2

    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(size * 1.8))
    cv2.putText(img, text, org, font, size, (0, 0, 0), thick + 3, cv2.LINE_AA)
    cv2.putText(img, text, org, font, size, col, thick, cv2.LINE_AA)


def _banner(img: np.ndarray, text: str, size: float) -> None:
    """White text on a dark strip in the top-left corner (model name, frame number)."""
    import cv2

    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(size * 1.6))
    (w, h), base = cv2.getTextSize(text, font, size, thick)
    pad = max(3, h // 3)
    top = img[: h + base + 2 * pad, : w + 2 * pad]
    top[:] = (top * 0.35).astype(img.dtype)
    cv2.putText(img, text, (pad, pad + h), font, size, (255, 255, 255), thick, cv2.LINE_AA)


def id_text_size(height: int) -> float:
    """OpenCV font scale of track ids: about 4 % of the frame height, never below 0.6."""
    return max(0.6, height / 560)


def draw_frame(
    img: np.ndarray, rows: pd.DataFrame, trails: dict, thickness: int = 1, scale: float = 1.0
) -> None:
    """Draw trails, boxes, centroids and ids (on ``img``, RGB, in place). Coordinates are
    in source pixels, multiplied by ``scale`` (the upscaling of ``img``)."""
    import cv2

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(round(x * scale)), int(round(y * scale))

    for tid, pts in trails.items():
        if len(pts) > 1:
            poly = np.array([pt(x, y) for x, y in pts], np.int32)
            cv2.polylines(img, [poly], False, track_colour(tid), thickness, cv2.LINE_AA)
    size = id_text_size(img.shape[0])
    for r in rows.itertuples():
        col = track_colour(int(r.track_id))
        if np.isfinite([r.bbox_x1, r.bbox_y1, r.bbox_x2, r.bbox_y2]).all():
            cv2.rectangle(img, pt(r.bbox_x1, r.bbox_y1), pt(r.bbox_x2, r.bbox_y2), col, thickness)
        if np.isfinite([r.centroid_x, r.centroid_y]).all():
            c = pt(r.centroid_x, r.centroid_y)
            cv2.circle(img, c, 2 + thickness, col, -1, cv2.LINE_AA)
            label = str(int(r.track_id)) if r.track_id >= 0 else "?"
            _text(img, label, (c[0] + 4 + thickness, c[1] - 4 - thickness), size, col)


def render_tracks(
    tracks,
    video_source: Path,
    out_mp4: Path,
    trail: int = 15,
    max_frames: int | None = None,
    fps: float | None = None,
    label: str | None = None,
    min_side: int = 480,
) -> Path:
    """Render ``tracks`` (table path or DataFrame) over ``video_source`` into ``out_mp4``.

    Frames 0 … last tracked frame (at most ``max_frames``) are written at ``fps`` (None:
    the source video's frame rate; 10 for image sequences), upscaled by an integer factor
    so the short side is at least ``min_side`` pixels, with ids drawn large and outlined;
    ``label`` (e.g. the model name) and the frame number are written in a corner. Trails
    keep the last ``trail`` centroids of each track.
    """
    import cv2
    import imageio_ffmpeg

    from dreem.io.video import video_fps

    df = _load_tracks(tracks)
    if not len(df):
        raise InputDataError("render_tracks: the tracks table is empty")
    n = int(df.frame_idx.max()) + 1
    if max_frames is not None:
        n = min(n, int(max_frames))
    fps = float(fps or video_fps(Path(video_source)) or 10.0)
    by_frame = {int(f): g for f, g in df.groupby("frame_idx")}
    trails: dict[int, deque] = defaultdict(lambda: deque(maxlen=max(trail, 1)))
    out_mp4 = Path(out_mp4)
    writer = None
    first_png = None
    with atomic_path(out_mp4) as tmp:
        try:
            for i, img in iter_source_frames(Path(video_source), n):
                h, w = img.shape[:2]
                k = scale_factor(h, w, min_side)
                if k > 1:
                    img = cv2.resize(img, (w * k, h * k), interpolation=cv2.INTER_NEAREST)
                thick = max(1, round(max(img.shape[:2]) / 400))
                rows = by_frame.get(i, df.iloc[:0])
                for r in rows.itertuples():
                    if r.track_id >= 0 and np.isfinite([r.centroid_x, r.centroid_y]).all():
                        trails[int(r.track_id)].append((r.centroid_x, r.centroid_y))
                draw_frame(img, rows, trails, thick, scale=k)
                corner = f"{label}  frame {i}" if label else f"frame {i}"
                _banner(img, corner, 0.8 * id_text_size(img.shape[0]))
                img = np.pad(img, ((0, img.shape[0] % 2), (0, img.shape[1] % 2), (0, 0)))
                if writer is None:
                    first_png = img.copy()
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp),
                        (img.shape[1], img.shape[0]),
                        fps=fps,
                        codec="libx264",
                        macro_block_size=1,
                        ffmpeg_log_level="error",
                        output_params=["-f", "mp4", "-movflags", "+faststart"],
                    )
                    writer.send(None)
                writer.send(np.ascontiguousarray(img))
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise InputDataError(f"no frames could be read from {video_source}")
    with atomic_path(out_mp4.with_suffix(".png")) as tmp_png:
        cv2.imwrite(str(tmp_png), first_png[:, :, ::-1])
    return out_mp4
