"""Draw tracks on the video: coloured boxes, centroids, fading trails and ids → H.264 mp4.

Frames are decoded sequentially (OpenCV for videos, TIFF reader for CTC raw folders,
auto-contrasted to 8 bit) and encoded with the ffmpeg bundled by imageio-ffmpeg. The
first rendered frame is also saved as ``{out}.png`` (a thumbnail for the report). Both files
are written atomically.
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


def draw_frame(img: np.ndarray, rows: pd.DataFrame, trails: dict, thickness: int = 1) -> None:
    """Draw boxes, centroids, ids (on ``img``, RGB, in place) and the trails."""
    import cv2

    for tid, pts in trails.items():
        if len(pts) > 1:
            col = track_colour(tid)
            cv2.polylines(img, [np.array(pts, np.int32)], False, col, thickness, cv2.LINE_AA)
    for r in rows.itertuples():
        col = track_colour(int(r.track_id))
        if np.isfinite([r.bbox_x1, r.bbox_y1, r.bbox_x2, r.bbox_y2]).all():
            p1, p2 = (int(r.bbox_x1), int(r.bbox_y1)), (int(r.bbox_x2), int(r.bbox_y2))
            cv2.rectangle(img, p1, p2, col, thickness)
        if np.isfinite([r.centroid_x, r.centroid_y]).all():
            c = (int(round(r.centroid_x)), int(round(r.centroid_y)))
            cv2.circle(img, c, 2 + thickness, col, -1, cv2.LINE_AA)
            label = str(int(r.track_id)) if r.track_id >= 0 else "?"
            cv2.putText(
                img,
                label,
                (c[0] + 4, c[1] - 4),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4 * thickness,
                col,
                thickness,
                cv2.LINE_AA,
            )


def render_tracks(
    tracks,
    video_source: Path,
    out_mp4: Path,
    trail: int = 15,
    max_frames: int | None = None,
    fps: float = 15.0,
) -> Path:
    """Render ``tracks`` (table path or DataFrame) over ``video_source`` into ``out_mp4``.

    Frames 0 … last tracked frame (at most ``max_frames``) are written; trails keep the last
    ``trail`` centroids of each track.
    """
    import imageio_ffmpeg

    df = _load_tracks(tracks)
    if not len(df):
        raise InputDataError("render_tracks: the tracks table is empty")
    n = int(df.frame_idx.max()) + 1
    if max_frames is not None:
        n = min(n, int(max_frames))
    by_frame = {int(f): g for f, g in df.groupby("frame_idx")}
    trails: dict[int, deque] = defaultdict(lambda: deque(maxlen=max(trail, 1)))
    out_mp4 = Path(out_mp4)
    writer = None
    first_png = None
    with atomic_path(out_mp4) as tmp:
        try:
            for i, img in iter_source_frames(Path(video_source), n):
                h, w = img.shape[:2]
                thick = max(1, round(max(h, w) / 500))
                rows = by_frame.get(i, df.iloc[:0])
                for r in rows.itertuples():
                    if r.track_id >= 0 and np.isfinite([r.centroid_x, r.centroid_y]).all():
                        trails[int(r.track_id)].append((r.centroid_x, r.centroid_y))
                draw_frame(img, rows, trails, thick)
                img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)))
                if writer is None:
                    first_png = img.copy()
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp),
                        (img.shape[1], img.shape[0]),
                        fps=fps,
                        codec="libx264",
                        macro_block_size=1,
                        output_params=["-f", "mp4"],
                    )
                    writer.send(None)
                writer.send(np.ascontiguousarray(img))
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise InputDataError(f"no frames could be read from {video_source}")
    import cv2

    with atomic_path(out_mp4.with_suffix(".png")) as tmp_png:
        cv2.imwrite(str(tmp_png), first_png[:, :, ::-1])
    return out_mp4
