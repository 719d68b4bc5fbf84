"""SleapSource on generated .slp + video files."""

from __future__ import annotations

import numpy as np
import pytest
from test_io_fixtures import (
    frame_pixels,
    make_sleap_pair,
    make_slp,
    make_video,
    two_instances,
)

from dreem.io.sources import SourceFrame, open_source
from dreem.io.video import read_frame_random_access
from dreem.utils.errors import InputDataError


def _row(slp, vid, k=0):
    return {"format": "slp", "labels_path": str(slp), "video_path": str(vid), "slp_video_index": k}


def test_counts_and_instances(tmp_path):
    slp, vid = make_sleap_pair(tmp_path, "a", n_frames=8, labelled=[1, 3, 6])
    src = open_source(_row(slp, vid))
    assert (src.n_frames, src.height, src.width) == (8, 48, 64)
    assert src.channels == 1 and src.dtype == np.uint8
    assert src.intensity_range == (0.0, 255.0)
    assert (src.n_labeled_frames, src.n_instances) == (3, 6)
    assert src.node_names == ["head", "tail"]
    assert src.track_names == ["t0", "t1"]
    frames = list(src.iter_frames())
    assert [f.frame_idx for f in frames] == [1, 3, 6]
    f = frames[1]
    assert isinstance(f, SourceFrame) and f.image.shape == (48, 64, 1)
    assert [i.track_id for i in f.instances] == [0, 1]
    assert [i.instance_idx for i in f.instances] == [0, 1]
    np.testing.assert_allclose(f.instances[0].points, [[13.0, 12.0], [17.0, 20.0]])
    assert f.instances[0].points.dtype == np.float32
    assert f.instances[0].mask is None and f.instances[0].score == 1.0
    src.close()


def test_sequential_decode_matches_random_access(tmp_path):
    slp, vid = make_sleap_pair(tmp_path, "a", n_frames=12, labelled=[0, 2, 5, 11])
    src = open_source(_row(slp, vid))
    for fr in src.iter_frames():
        ref = read_frame_random_access(vid, fr.frame_idx, grayscale=True)
        np.testing.assert_array_equal(fr.image, ref)
        # and it is the frame we wrote (lossy codec: compare loosely)
        want = frame_pixels(fr.frame_idx)[:, :, 0].astype(int)
        assert np.abs(fr.image[:, :, 0].astype(int) - want).mean() < 6


def test_colour_video_gives_rgb(tmp_path):
    vid = make_video(tmp_path / "c.avi", 4, colour=True)
    slp = make_slp(tmp_path / "c.slp", [vid], {0: two_instances(0), 2: two_instances(2)})
    src = open_source(_row(slp, vid))
    assert src.channels == 3
    img = next(iter(src.iter_frames())).image
    assert img.shape == (48, 64, 3)
    block = img[32:38, 12:28].reshape(-1, 3).mean(0)
    assert block[2] > 150 and block[0] < 80  # blue written as BGR comes back as RGB


def test_all_nan_instance_dropped_and_counted(tmp_path):
    vid = make_video(tmp_path / "a.mp4", 4)
    nan = [[np.nan, np.nan], [np.nan, np.nan]]
    frames = {0: two_instances(0) + [(nan, None, None)], 1: [(nan, 0, None)], 2: two_instances(2)}
    slp = make_slp(tmp_path / "a.slp", [vid], frames)
    src = open_source(_row(slp, vid))
    assert src.n_dropped_nan == 2
    assert src.n_instances == 4 and src.n_labeled_frames == 2  # frame 1 had only a NaN instance
    assert [f.frame_idx for f in src.iter_frames()] == [0, 2]


def test_partial_nan_kept(tmp_path):
    vid = make_video(tmp_path / "a.mp4", 2)
    slp = make_slp(tmp_path / "a.slp", [vid], {0: [([[1.0, 2.0], [np.nan, np.nan]], 0, None)]})
    inst = next(iter(open_source(_row(slp, vid)).iter_frames())).instances[0]
    assert np.isnan(inst.points[1]).all() and inst.points[0].tolist() == [1.0, 2.0]


def test_duplicate_track_in_frame_is_error(tmp_path):
    vid = make_video(tmp_path / "a.mp4", 4)
    dup = [([[1.0, 1.0], [2.0, 2.0]], 0, None), ([[5.0, 5.0], [6.0, 6.0]], 0, None)]
    slp = make_slp(tmp_path / "a.slp", [vid], {0: two_instances(0), 3: dup})
    with pytest.raises(InputDataError) as e:
        open_source(_row(slp, vid))
    msg = str(e.value)
    assert "a.slp" in msg and "frame 3" in msg and "'t0'" in msg


def test_predicted_duplicating_user_track_keeps_user(tmp_path):
    vid = make_video(tmp_path / "a.mp4", 4)
    insts = [
        ([[9.0, 9.0], [8.0, 8.0]], 0, 0.7),  # predicted, track t0
        ([[1.0, 1.0], [2.0, 2.0]], 0, None),  # user, track t0
        ([[5.0, 5.0], [6.0, 6.0]], 1, 0.4),  # predicted alone on t1
        ([[7.0, 7.0], [6.0, 6.0]], None, 0.2),  # untracked predicted
    ]
    slp = make_slp(tmp_path / "a.slp", [vid], {0: insts})
    src = open_source(_row(slp, vid))
    assert src.n_dropped_predicted == 1
    inst = next(iter(src.iter_frames())).instances
    assert [i.instance_idx for i in inst] == [1, 2, 3]
    assert [i.track_id for i in inst] == [0, 1, -1]
    assert [i.is_predicted for i in inst] == [False, True, True]
    assert inst[1].score == pytest.approx(0.4) and inst[0].score == 1.0
    assert inst[2].track_name is None


def test_truncated_video(tmp_path):
    vid = make_video(tmp_path / "a.mp4", 10)
    slp = make_slp(tmp_path / "a.slp", [vid], {2: two_instances(2), 15: two_instances(15)})
    with pytest.raises(InputDataError, match=r"labels reference frame 15 but video .*a\.mp4"):
        open_source(_row(slp, vid))


def test_video_cut_short_detected_while_decoding(tmp_path):
    import subprocess

    import imageio_ffmpeg

    raw = make_video(tmp_path / "raw.mp4", 20)
    vid = tmp_path / "a.mp4"  # moov atom first, so the header survives truncation
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(raw)]
    subprocess.run([*cmd, "-c", "copy", "-movflags", "faststart", str(vid)], check=True)
    data = vid.read_bytes()
    vid.write_bytes(data[: len(data) // 2])  # header still claims 20 frames
    slp = make_slp(tmp_path / "a.slp", [vid], {1: two_instances(1), 15: two_instances(15)})
    src = open_source(_row(slp, vid))
    assert src.n_frames == 20
    it = src.iter_frames()
    assert next(it).frame_idx == 1
    with pytest.raises(
        InputDataError, match=r"labels reference frame 15 but video .*a\.mp4 has \d"
    ):
        next(it)


def test_missing_files(tmp_path):
    slp, vid = make_sleap_pair(tmp_path, "a", n_frames=3)
    with pytest.raises(InputDataError, match="nope.mp4"):
        open_source(_row(slp, tmp_path / "nope.mp4"))
    with pytest.raises(InputDataError, match="nope.slp"):
        open_source(_row(tmp_path / "nope.slp", vid))


def test_garbage_files(tmp_path):
    slp, vid = make_sleap_pair(tmp_path, "a", n_frames=3)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(InputDataError, match="bad.mp4"):
        open_source(_row(slp, bad))
    bad_slp = tmp_path / "bad.slp"
    bad_slp.write_bytes(b"not hdf5")
    with pytest.raises(InputDataError, match="bad.slp"):
        open_source(_row(bad_slp, vid))


def test_empty_labels(tmp_path):
    vid = make_video(tmp_path / "a.mp4", 3)
    slp = make_slp(tmp_path / "a.slp", [vid], {})
    with pytest.raises(InputDataError, match="no labelled instances"):
        open_source(_row(slp, vid))


def test_multi_video_slp_sources(tmp_path):
    v0 = make_video(tmp_path / "cam0.mp4", 5)
    v1 = make_video(tmp_path / "cam1.mp4", 7)
    frames = {(0, 1): two_instances(1), (1, 0): two_instances(0), (1, 6): two_instances(6)}
    slp = make_slp(tmp_path / "multi.slp", [v0, v1], frames)
    s0 = open_source(_row(slp, v0, 0))
    s1 = open_source(_row(slp, v1, 1))
    assert (s0.n_frames, s0.n_labeled_frames) == (5, 1)
    assert (s1.n_frames, s1.n_labeled_frames) == (7, 2)
    assert [f.frame_idx for f in s1.iter_frames()] == [0, 6]
    with pytest.raises(InputDataError, match="slp_video_index 2"):
        open_source(_row(slp, v0, 2))


def test_paths_with_spaces(tmp_path):
    slp, vid = make_sleap_pair(tmp_path / "my data", "fly one", n_frames=3)
    src = open_source(_row(slp, vid))
    assert len(list(src.iter_frames())) == 3


def test_unknown_format(tmp_path):
    with pytest.raises(InputDataError, match="slp, ctc, trackmate, isbi, icy"):
        open_source({"format": "nwb", "labels_path": tmp_path / "x", "video_path": tmp_path / "y"})


def _read_all(slp, vid, k=0):
    src = open_source(_row(slp, vid, k))
    frames = [
        (
            f.frame_idx,
            [
                (
                    i.instance_idx,
                    i.track_id,
                    i.track_name,
                    i.score,
                    i.is_predicted,
                    np.nan_to_num(i.points, nan=-999.0).tolist(),
                )
                for i in f.instances
            ],
        )
        for f in src.iter_frames()
    ]
    counts = (
        src.n_labeled_frames,
        src.n_instances,
        src.n_tracks,
        src.n_dropped_nan,
        src.n_dropped_predicted,
    )
    return frames, counts


def test_flat_array_labels_match_sleap_io_objects(tmp_path, monkeypatch):
    """Labels read from sleap-io's flat arrays equal those built from its Instance objects
    (NaN nodes, predicted duplicates of user tracks, untracked, multi-video, frame order)."""
    import dreem.io.slp as slp_mod

    v0 = make_video(tmp_path / "cam0.mp4", 8)
    v1 = make_video(tmp_path / "cam1.mp4", 8)
    part = [([[1.0, 2.0], [np.nan, np.nan]], 1, 0.3)]
    nan = [([[np.nan, np.nan], [np.nan, np.nan]], None, None)]
    mixed = [
        ([[9.0, 9.0], [8.0, 8.0]], 0, 0.7),
        ([[1.0, 1.0], [2.0, 2.0]], 0, None),
        ([[7.0, 7.0], [6.0, 6.0]], None, 0.2),
    ]
    frames = {
        (0, 5): two_instances(5),
        (0, 1): mixed + part,
        (0, 3): nan,
        (0, 2): nan + part,
        (1, 0): two_instances(0),
        (1, 6): mixed,
    }
    slp = make_slp(tmp_path / "m.slp", [v0, v1], frames)
    flat = [_read_all(slp, v, k) for k, v in enumerate((v0, v1))]
    monkeypatch.setattr(slp_mod, "read_slp_arrays", lambda *a, **k: None)
    objects = [_read_all(slp, v, k) for k, v in enumerate((v0, v1))]
    assert flat == objects
    assert [f for f, _ in flat[0][0]] == [1, 2, 5]
