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

    from dreem.evaluation.render import render_tracks

    raw = tmp_path / "01"
    raw.mkdir()
    for f in range(6):
        tifffile.imwrite(raw / f"t{f:03d}.tif", np.full((41, 47), 1000 + 10 * f, np.uint16))
    out = render_tracks(_table(6), raw, tmp_path / "r" / "01.mp4", trail=3)
    png = cv2.imread(str(out.with_suffix(".png")))
    assert png.shape[:2] == (42, 48)  # padded to even size for yuv420p
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 6
    # the box of track 0 is drawn in colour on a grey frame
    assert (np.ptp(png[6:15, 4:13].astype(int), axis=2) > 50).any()

    # re-render from the rendered mp4 (video input path), capped to 3 frames
    out2 = render_tracks(_table(6), out, tmp_path / "r2.mp4", max_frames=3)
    cap = cv2.VideoCapture(str(out2))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
