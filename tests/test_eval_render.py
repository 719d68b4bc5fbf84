"""render_tracks: mp4 + first-frame PNG from a video or a CTC raw folder."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _table(n):
    return pd.DataFrame(
        [
            dict(
                frame_idx=f,
                instance_idx=k,
                track_id=k,
                centroid_x=8.0 + 2 * f,
                centroid_y=10.0 + 20 * k,
                bbox_y1=6.0 + 20 * k,
                bbox_x1=4.0 + 2 * f,
                bbox_y2=14.0 + 20 * k,
                bbox_x2=12.0 + 2 * f,
            )
            for f in range(n)
            for k in range(2)
        ]
    )


def test_render_ctc_folder_and_mp4(tmp_path):
    import cv2
    import tifffile

    from dreem.evaluation.render import render_tracks, scale_factor

    raw = tmp_path / "01"
    raw.mkdir()
    for f in range(6):
        tifffile.imwrite(raw / f"t{f:03d}.tif", np.full((41, 47), 1000 + 10 * f, np.uint16))
    out = render_tracks(_table(6), raw, tmp_path / "r" / "01.mp4", trail=3, label="gtr")
    k = scale_factor(41, 47)
    assert k == 12  # a tiny clip is scaled up to a watchable size
    png = cv2.imread(str(out.with_suffix(".png")))
    assert png.shape[:2] == (41 * k, 47 * k)
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FPS) == 10  # image sequences: 10 frames/s
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 6
    # the box of track 0 (source pixels x 4-12, y 6-14) is drawn in colour on a grey frame
    box = png[6 * k : 15 * k, 4 * k : 13 * k].astype(int)
    assert (np.ptp(box, axis=2) > 50).any()

    # re-render from the rendered mp4 (video input path), capped to 3 frames
    out2 = render_tracks(_table(6), out, tmp_path / "r2.mp4", max_frames=3)
    cap = cv2.VideoCapture(str(out2))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_render_keeps_source_fps_and_big_frames_unscaled(tmp_path):
    import cv2

    from dreem.evaluation.render import render_tracks, scale_factor
    from dreem.synth.animals import write_gray_mp4

    frames = np.full((4, 64, 96), 90, np.uint8)
    src = write_gray_mp4(frames, tmp_path / "clip.mp4", fps=25)
    out = render_tracks(_table(4), src, tmp_path / "out.mp4")
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FPS) == 25  # the source's rate, not a fixed one
    assert int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 64 * scale_factor(64, 96) == 512
    assert scale_factor(1080, 1920) == 1
    assert scale_factor(100, 1500) == 1  # never past 1600 px on the long side
