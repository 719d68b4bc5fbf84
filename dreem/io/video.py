"""Sequential video decoding with OpenCV.

Random access (seeking) in compressed video is ~25x slower than decoding in order, so
readers walk the file once: ``grab()`` skips frames that are not needed, ``retrieve()``
decodes the ones that are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from dreem.utils.errors import InputDataError


def _open(path: Path):
    import cv2

    if not Path(path).exists():
        raise InputDataError(f"video file not found: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputDataError(f"cannot open video {path} (unreadable or unsupported format)")
    return cap


def to_native(bgr: np.ndarray, grayscale: bool, luma: bool = False) -> np.ndarray:
    """OpenCV BGR (or 2-D) frame -> (H, W, 1) grey or (H, W, 3) RGB.

    Grey output takes the first channel (all channels are equal in a grey video) or, with
    ``luma`` (a colour video that must be read as grey), the luminance.
    """
    if bgr.ndim == 2:
        return bgr[:, :, None]
    if grayscale:
        if luma:
            import cv2

            return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[:, :, None]
        return bgr[:, :, :1]  # strided view: crops slice it, no full-frame copy
    return np.ascontiguousarray(bgr[:, :, ::-1])


def is_grey(bgr: np.ndarray, tol: int = 0) -> bool:
    """True if a decoded frame's colour channels differ by at most ``tol`` levels (or it has
    only one channel); a small ``tol`` absorbs chroma noise of lossy codecs."""
    if bgr.ndim == 2 or bgr.shape[2] == 1:
        return True
    b, g, r = (bgr[..., k].astype(np.int16) for k in range(3))
    return int(max(np.abs(b - g).max(), np.abs(b - r).max())) <= tol


def probe_video(path: Path) -> dict:
    """Frame count (container), size and the first frame (BGR) of a video."""
    import cv2

    cap = _open(path)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, frame = cap.read()
        if not ok or frame is None:
            raise InputDataError(f"cannot decode any frame of video {path} (empty or corrupt)")
        if n <= 0:  # container does not say: count by walking the stream once
            n = 1
            while cap.grab():
                n += 1
        return {
            "n_frames": max(n, 0),
            "height": int(frame.shape[0]),
            "width": int(frame.shape[1]),
            "first_frame": frame,
            "dtype": frame.dtype,
        }
    finally:
        cap.release()


def video_fps(path: str | Path) -> float | None:
    """The frame rate a video file's container states (None for image folders/stacks, an
    unreadable file or a container that gives none)."""
    import cv2

    path = Path(path)
    if not path.is_file() or path.suffix.lower() in (".tif", ".tiff"):
        return None
    cap = cv2.VideoCapture(str(path))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS)) if cap.isOpened() else 0.0
    finally:
        cap.release()
    return fps if 0.0 < fps < 1e4 else None


def read_frames_sequential(
    path: Path, frame_indices: Iterable[int], grayscale: bool, luma: bool = False
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_idx, image)`` for sorted ``frame_indices``, decoding the video once.

    Raises :class:`InputDataError` naming the video when decoding ends before a requested
    frame (truncated file, or labels beyond the video's end).
    """
    wanted = sorted(set(int(i) for i in frame_indices))
    if not wanted:
        return
    if wanted[0] < 0:
        raise InputDataError(f"labels reference negative frame {wanted[0]} of video {path}")
    cap = _open(path)
    try:
        pos = 0  # index of the next frame the decoder will return
        for target in wanted:
            while pos < target:
                if not cap.grab():
                    raise _ended(path, target, pos)
                pos += 1
            ok, frame = cap.read()
            if not ok or frame is None:
                raise _ended(path, target, pos)
            pos += 1
            yield target, to_native(frame, grayscale, luma)
    finally:
        cap.release()


def _ended(path: Path, target: int, decoded: int) -> InputDataError:
    return InputDataError(
        f"labels reference frame {target} but video {path} has {decoded} frames "
        "(decoding ended early: truncated or corrupt video?)"
    )


def read_frame_random_access(
    path: Path, frame_idx: int, grayscale: bool, luma: bool = False
) -> np.ndarray:
    """Read one frame by seeking (slow; for tests and spot checks only)."""
    import cv2

    cap = _open(path)
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(frame_idx))
        ok, frame = cap.read()
        if not ok or frame is None:
            raise InputDataError(f"cannot read frame {frame_idx} of video {path}")
        return to_native(frame, grayscale, luma)
    finally:
        cap.release()
