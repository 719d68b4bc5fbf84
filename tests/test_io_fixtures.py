"""Helpers that build tiny input files for the dreem.io tests (no tests in this module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def frame_pixels(i: int, h: int = 48, w: int = 64, colour: bool = False) -> np.ndarray:
    """A BGR frame whose content identifies ``i`` (a moving bright block on a grey level)."""
    img = np.full((h, w, 3), (i * 23) % 200, np.uint8)
    x = (i * 5) % (w - 8)
    img[8:24, x : x + 8] = 255
    if colour:
        img[30:40, 10:30] = (255, 0, 0)  # blue in BGR
    return img


def make_video(path: Path, n_frames: int, h: int = 48, w: int = 64, colour: bool = False) -> Path:
    """Write an mp4 (mp4v) or avi (MJPG) with ``n_frames`` frames."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, 10, (w, h))
    assert writer.isOpened()
    for i in range(n_frames):
        writer.write(frame_pixels(i, h, w, colour))
    writer.release()
    return path


def make_slp(
    path: Path,
    videos: list[Path],
    frames: dict,
    node_names=("head", "tail"),
    track_names=("t0", "t1"),
) -> Path:
    """Write a .slp. ``frames`` maps ``(video_index, frame_idx)`` (or ``frame_idx`` for video 0)
    to a list of ``(points (n_nodes, 2), track_index or None, score or None)``; a score makes
    a PredictedInstance."""
    import sleap_io as sio

    sk = sio.Skeleton(list(node_names))
    vids = [sio.Video(filename=str(v), open_backend=False) for v in videos]
    tracks = [sio.Track(n) for n in track_names]
    lfs = []
    for key, insts in frames.items():
        vi, fi = key if isinstance(key, tuple) else (0, key)
        objs = []
        for pts, tidx, score in insts:
            pts = np.asarray(pts, dtype=float)
            track = tracks[tidx] if tidx is not None else None
            if score is None:
                objs.append(sio.Instance.from_numpy(pts, skeleton=sk, track=track))
            else:
                objs.append(
                    sio.PredictedInstance.from_numpy(pts, skeleton=sk, track=track, score=score)
                )
        lfs.append(sio.LabeledFrame(video=vids[vi], frame_idx=fi, instances=objs))
    labels = sio.Labels(labeled_frames=lfs, videos=vids, skeletons=[sk], tracks=tracks)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.save_slp(labels, str(path))
    return path


def two_instances(f: int) -> list:
    """Two tracked user instances for frame ``f``."""
    return [
        ([[10.0 + f, 12.0], [14.0 + f, 20.0]], 0, None),
        ([[40.0, 30.0 - f], [44.0, 36.0]], 1, None),
    ]


def make_sleap_pair(folder: Path, stem: str, n_frames: int = 6, labelled=None) -> tuple[Path, Path]:
    """A small .mp4 + .slp pair with two tracks labelled on ``labelled`` frames."""
    labelled = list(range(n_frames)) if labelled is None else labelled
    vid = make_video(Path(folder) / f"{stem}.mp4", n_frames)
    slp = make_slp(Path(folder) / f"{stem}.slp", [vid], {f: two_instances(f) for f in labelled})
    return slp, vid


def make_ctc(
    folder: Path,
    seq: str = "01",
    n_frames: int = 4,
    naming: str = "ctc",
    dtype=np.uint8,
    h: int = 32,
    w: int = 40,
) -> tuple[Path, Path]:
    """A CTC sequence ``seq/`` + ``seq_GT/TRA/`` with two moving squares (labels 1 and 2; label
    2 starts at frame 1) and ``man_track.txt``. ``naming``: ``ctc`` (t000.tif /
    man_track000.tif) or ``frame`` (frame_0000.tif in both)."""
    import tifffile

    raw = Path(folder) / seq
    tra = Path(folder) / f"{seq}_GT" / "TRA"
    raw.mkdir(parents=True, exist_ok=True)
    tra.mkdir(parents=True, exist_ok=True)
    for t in range(n_frames):
        img = np.full((h, w), 10 + t, dtype)
        mask = np.zeros((h, w), np.uint16)
        mask[2:6, 2 + t : 6 + t] = 1
        if t >= 1:
            mask[20:30, 20:24] = 2
        img[mask > 0] = 200 if dtype == np.uint8 else 40000
        if naming == "ctc":
            rname, mname = f"t{t:03d}.tif", f"man_track{t:03d}.tif"
        else:
            rname = mname = f"frame_{t:04d}.tif"
        tifffile.imwrite(raw / rname, img)
        tifffile.imwrite(tra / mname, mask)
    (tra / "man_track.txt").write_text(f"1 0 {n_frames - 1} 0\n2 1 {n_frames - 1} 0\n")
    return tra, raw
