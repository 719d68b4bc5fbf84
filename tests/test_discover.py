"""pair_files / discover_dataset / write_manifest on generated files."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from test_io_fixtures import make_ctc, make_sleap_pair, make_slp, make_video, two_instances

from dreem.io.discover import (
    MANIFEST_COLUMNS,
    discover_dataset,
    pair_files,
    safe_id,
    write_manifest,
)
from dreem.io.sources import open_source
from dreem.utils.errors import ConfigError, InputDataError


def _dir_spec(path, ls=".slp", vs=".mp4", **kw):
    return {"dir": {"path": str(path), "labels_suffix": ls, "vid_suffix": vs}, **kw}


def test_pairing_by_stem_not_order(tmp_path):
    for stem in ["b10", "b2", "a"]:
        make_sleap_pair(tmp_path, stem, n_frames=2)
    make_video(tmp_path / "a_extra.mp4", 2)  # sorts between a.mp4 and b10.mp4: breaks positions
    make_slp(tmp_path / "zz.slp", [tmp_path / "a_extra.mp4"], {0: two_instances(0)})
    pairs = pair_files(_dir_spec(tmp_path))
    assert [p.video_id for p in pairs] == ["a", "b2", "b10", "zz"]  # natural sort
    for p in pairs[:3]:
        assert p.labels_path.stem == p.video_path.stem == p.video_id
    assert pairs[3].video_path.name == "a_extra.mp4"  # via the video named inside zz.slp
    assert all(p.format == "slp" and p.slp_video_index == 0 for p in pairs)


def test_explicit_lists_paired_by_stem(tmp_path):
    s1, v1 = make_sleap_pair(tmp_path, "one", 2)
    s2, v2 = make_sleap_pair(tmp_path, "two", 2)
    pairs = pair_files({"slp_files": [str(s1), str(s2)], "video_files": [str(v2), str(v1)]})
    assert {(p.labels_path.name, p.video_path.name) for p in pairs} == {
        ("one.slp", "one.mp4"),
        ("two.slp", "two.mp4"),
    }


def test_relative_paths_use_base_dir(tmp_path):
    make_sleap_pair(tmp_path / "data", "x", 2)
    pairs = pair_files(_dir_spec("data"), base_dir=tmp_path)
    assert pairs[0].labels_path == tmp_path / "data" / "x.slp"


def test_all_unpaired_reported_together(tmp_path):
    make_sleap_pair(tmp_path, "ok", 2)
    vid = make_video(tmp_path / "lonely_video.mp4", 2)
    other = make_video(tmp_path / "elsewhere" / "v.mp4", 2)
    make_slp(tmp_path / "lonely_labels.slp", [other], {0: two_instances(0)})
    make_slp(tmp_path / "also_alone.slp", [other], {0: two_instances(0)})
    other.unlink()  # the video the .slp files name no longer exists
    with pytest.raises(InputDataError) as e:
        pair_files(_dir_spec(tmp_path))
    msg = str(e.value)
    assert "3 problem(s)" in msg
    for name in ["lonely_video.mp4", "lonely_labels.slp", "also_alone.slp"]:
        assert name in msg
    assert "ok.slp" not in msg and str(vid) in msg


def test_compound_labels_suffix(tmp_path):
    make_video(tmp_path / "fly.mp4", 2)
    make_video(tmp_path / "bee.mp4", 2)
    other = tmp_path / "x" / "zzz.mp4"
    make_slp(tmp_path / "fly.predictions.slp", [other], {0: two_instances(0)})
    make_slp(tmp_path / "bee.mp4.predictions.slp", [other], {0: two_instances(0)})
    pairs = pair_files(_dir_spec(tmp_path))
    assert {(p.video_id, p.video_path.name) for p in pairs} == {
        ("fly", "fly.mp4"),
        ("bee.mp4", "bee.mp4"),
    }
    pairs = pair_files(_dir_spec(tmp_path, ls=".predictions.slp"))
    assert {p.video_id for p in pairs} == {"fly", "bee.mp4"}


def test_embedded_video_name_fallback(tmp_path):
    vid = make_video(tmp_path / "clip.mp4", 3)
    make_slp(tmp_path / "clip.slp", [vid], {0: two_instances(0)})
    make_slp(tmp_path / "clip_noisy.slp", [vid], {1: two_instances(1)})
    pairs = pair_files(_dir_spec(tmp_path))
    assert {(p.video_id, p.video_path.name) for p in pairs} == {
        ("clip", "clip.mp4"),
        ("clip_noisy", "clip.mp4"),
    }


def test_embedded_video_outside_dir(tmp_path):
    other = make_video(tmp_path / "videos" / "cam.mp4", 3)
    make_slp(tmp_path / "labels" / "session.slp", [other], {0: two_instances(0)})
    pairs = pair_files(_dir_spec(tmp_path / "labels"))
    assert [(p.video_id, p.video_path) for p in pairs] == [("session", other)]


def test_multi_video_slp_expands(tmp_path):
    v0 = make_video(tmp_path / "cam0.mp4", 4)
    v1 = make_video(tmp_path / "cam1.mp4", 5)
    frames = {(0, 0): two_instances(0), (1, 2): two_instances(2)}
    make_slp(tmp_path / "session.slp", [v0, v1], frames)
    pairs = pair_files(_dir_spec(tmp_path))
    assert [(p.video_id, p.video_path.name, p.slp_video_index) for p in pairs] == [
        ("session__v0", "cam0.mp4", 0),
        ("session__v1", "cam1.mp4", 1),
    ]
    df = discover_dataset("d", _dir_spec(tmp_path))
    assert df["n_frames"].tolist() == [4, 5] and df["n_labeled_frames"].tolist() == [1, 1]


def test_duplicate_ids_are_error(tmp_path):
    make_sleap_pair(tmp_path / "a", "same", 2)
    make_sleap_pair(tmp_path / "b", "same", 2)
    spec = {"dir": {"path": [str(tmp_path / "a"), str(tmp_path / "b")]}}
    spec["dir"].update(labels_suffix=".slp", vid_suffix=".mp4")
    with pytest.raises(InputDataError, match="ambiguous"):
        pair_files(spec)


def test_safe_ids_and_spaces(tmp_path):
    make_sleap_pair(tmp_path / "with space", "fly #1 (a)", 2)
    pairs = pair_files(_dir_spec(tmp_path / "with space"))
    assert pairs[0].video_id == "fly__1__a_" == safe_id("fly #1 (a)")
    df = discover_dataset("d", _dir_spec(tmp_path / "with space"))
    assert df.loc[0, "n_instances"] == 4


def test_missing_and_bad_config(tmp_path):
    with pytest.raises(InputDataError, match="nope"):
        pair_files(_dir_spec(tmp_path / "nope"))
    with pytest.raises(InputDataError, match="missing.slp"):
        pair_files({"slp_files": [str(tmp_path / "missing.slp")], "video_files": []})
    with pytest.raises(ConfigError, match="labels_suffix"):
        pair_files(_dir_spec(tmp_path, ls=".h5"))
    with pytest.raises(ConfigError, match="trackmate, isbi, icy"):
        pair_files(_dir_spec(tmp_path, ls=".csv", vs=".tif", source="imaris"))
    with pytest.raises(ConfigError):
        pair_files({})
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match="no labels files found"):
        pair_files(_dir_spec(tmp_path / "empty"))


@pytest.mark.parametrize("naming", ["ctc", "frame"])
def test_ctc_dir_discovery(tmp_path, naming):
    make_ctc(tmp_path, "01", n_frames=3, naming=naming)
    make_ctc(tmp_path, "02", n_frames=2, naming=naming)
    (tmp_path / "01_RES").mkdir()  # tracker output folders are ignored
    for spec in (_dir_spec(tmp_path, ".tif", ".tif"), {"dir": {"path": str(tmp_path)}}):
        pairs = pair_files(spec)
        assert [p.video_id for p in pairs] == ["01", "02"]
        assert pairs[0].labels_path == tmp_path / "01_GT" / "TRA"
        assert pairs[0].video_path == tmp_path / "01"
        assert pairs[0].extra["man_track"].endswith("man_track.txt")
    df = discover_dataset("cells", _dir_spec(tmp_path, ".tif", ".tif"))
    assert df["n_instances"].tolist() == [5, 3] and df["format"].tolist() == ["ctc", "ctc"]


def test_ctc_unpaired(tmp_path):
    make_ctc(tmp_path, "01", n_frames=2)
    make_ctc(tmp_path, "02", n_frames=2)
    import shutil

    shutil.rmtree(tmp_path / "02_GT")
    shutil.rmtree(tmp_path / "01")
    with pytest.raises(InputDataError) as e:
        pair_files(_dir_spec(tmp_path, ".tif", ".tif"))
    assert "01_GT" in str(e.value) and "02" in str(e.value) and "2 problem(s)" in str(e.value)


def test_ctc_explicit_lists(tmp_path):
    tra, raw = make_ctc(tmp_path, "01", n_frames=3)
    pairs = pair_files({"raw_images": [str(raw)], "gt_images": [str(tra.parent)]})
    assert pairs[0].labels_path == tra and pairs[0].extra["man_track"].endswith("man_track.txt")
    files = {
        "raw_images": [[str(p) for p in sorted(raw.glob("*.tif"))]],
        "gt_images": [[str(p) for p in sorted(tra.glob("*.tif"))]],
    }
    pairs = pair_files(files)
    src = open_source(pairs[0].as_row())
    assert src.n_frames == 3 and src.n_instances == 5


def test_discover_manifest_and_write(tmp_path):
    make_sleap_pair(tmp_path / "d", "b", 3)
    make_sleap_pair(tmp_path / "d", "a", 5, labelled=[0, 4])
    t = time.time()
    df = discover_dataset("flies", _dir_spec(tmp_path / "d"))
    assert time.time() - t < 10
    assert list(df.columns) == MANIFEST_COLUMNS
    assert df["video_id"].tolist() == ["a", "b"]
    row = df.iloc[0]
    assert (row["n_frames"], row["height"], row["width"], row["channels"]) == (5, 48, 64, 1)
    assert (row["n_labeled_frames"], row["n_instances"], row["n_tracks"]) == (2, 4, 2)
    assert row["labels_size"] == (tmp_path / "d" / "a.slp").stat().st_size
    assert json.loads(row["extra"]) == {}
    out = write_manifest(df, tmp_path / "out" / "manifest.parquet")
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, df)
    assert (tmp_path / "out" / "manifest.csv").exists()
    assert not [p for p in (tmp_path / "out").iterdir() if ".tmp" in p.name]
    # a manifest row round-trips into open_source
    src = open_source(back.iloc[1].to_dict())
    assert src.n_labeled_frames == 3


def test_discover_collects_open_errors(tmp_path):
    make_sleap_pair(tmp_path, "good", 3)
    vid = make_video(tmp_path / "short.mp4", 4)
    make_slp(tmp_path / "short.slp", [vid], {7: two_instances(7)})
    vid2 = make_video(tmp_path / "empty.mp4", 2)
    make_slp(tmp_path / "empty.slp", [vid2], {})
    with pytest.raises(InputDataError) as e:
        discover_dataset("d", _dir_spec(tmp_path))
    msg = str(e.value)
    assert "2 input file problem(s)" in msg and "short.mp4" in msg and "empty.slp" in msg


def test_pair_files_is_fast(tmp_path):
    for i in range(20):
        make_sleap_pair(tmp_path, f"v{i}", n_frames=1)
    t = time.time()
    pairs = pair_files(_dir_spec(tmp_path))
    assert len(pairs) == 20 and time.time() - t < 2.0
