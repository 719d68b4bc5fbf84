"""TrackMate / ISBI / ICY tables + TIFF frames on generated files."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from dreem.io.discover import discover_dataset, pair_files
from dreem.io.isbi_icy import parse_isbi_icy
from dreem.io.sources import open_source
from dreem.io.trackmate import parse_trackmate
from dreem.utils.errors import ConfigError, InputDataError

DETS = [  # frame, track, x, y
    (0, 0, 5.0, 6.0),
    (0, 1, 20.0, 10.0),
    (1, 0, 6.0, 7.0),
    (2, 1, 21.0, 11.0),
]


def _stack(path, n=3, dtype=np.uint16, h=16, w=32):
    arr = np.stack([np.full((h, w), 100 * (i + 1), dtype) for i in range(n)])
    tifffile.imwrite(path, arr, photometric="minisblack")
    return path


def _isbi_xml(path, dets=DETS):
    parts = ['<?xml version="1.0"?>\n<root><TrackContestISBI2012 snr="1">']
    for tid in sorted({d[1] for d in dets}):
        parts.append("<particle>")
        parts += [f'<detection t="{f}" x="{x}" y="{y}" z="0"/>' for f, t, x, y in dets if t == tid]
        parts.append("</particle>")
    parts.append("</TrackContestISBI2012></root>")
    path.write_text("\n".join(parts))
    return path


def _icy_xml(path, dets=DETS):
    parts = ['<root><trackfile version="1"/><trackgroup description="x">']
    for tid in sorted({d[1] for d in dets}):
        parts.append(f'<track id="{1000 + tid}">')
        parts += [f'<detection t="{f}" x="{x}" y="{y}" z="0"/>' for f, t, x, y in dets if t == tid]
        parts.append("</track>")
    parts.append("</trackgroup></root>")
    path.write_text("\n".join(parts))
    return path


def test_mtrackj_csv_latin1_one_based(tmp_path):
    p = tmp_path / "t.csv"
    lines = ["Track n°,Slice n°,X,Y,Distance,Velocity,Pixel Value"]
    lines += [f"{t + 1},{f + 1},{x},{y},-1,-1,5" for f, t, x, y in DETS]
    p.write_bytes("\n".join(lines).encode("latin-1"))
    df = parse_trackmate(p)
    assert df[["frame", "track_id", "x", "y"]].values.tolist() == [list(d) for d in DETS]


def test_trackmate_spots_csv_with_header_rows(tmp_path):
    p = tmp_path / "spots.csv"
    lines = [
        "LABEL,ID,TRACK_ID,QUALITY,POSITION_X,POSITION_Y,POSITION_Z,POSITION_T,FRAME",
        "Label,Spot ID,Track ID,Quality,X,Y,Z,T,Frame",
        "Label,Spot ID,Track ID,Quality,X,Y,Z,T,Frame",
        ",,,(quality),(pixel),(pixel),(pixel),(sec),",
    ]
    lines += [f"ID{i},{i},{t},1,{x},{y},0,{f},{f}" for i, (f, t, x, y) in enumerate(DETS)]
    lines.append("ID9,9,,1,3.0,3.0,0,2,2")  # untracked spot
    p.write_text("\n".join(lines))
    df = parse_trackmate(p)
    assert df["frame"].tolist() == [0, 0, 1, 2, 2]
    assert df["track_id"].tolist() == [0, 1, 0, 1, -1]


def test_trackmate_xml(tmp_path):
    p = tmp_path / "model.xml"
    p.write_text(
        """<TrackMate><Model><AllSpots>
        <SpotsInFrame frame="0"><Spot ID="1" FRAME="0" POSITION_X="5" POSITION_Y="6"/>
          <Spot ID="2" FRAME="0" POSITION_X="20" POSITION_Y="10"/>
          <Spot ID="9" FRAME="0" POSITION_X="1" POSITION_Y="1"/></SpotsInFrame>
        <SpotsInFrame frame="1"><Spot ID="3" FRAME="1" POSITION_X="6" POSITION_Y="7"/>
          <Spot ID="4" FRAME="1" POSITION_X="21" POSITION_Y="11"/></SpotsInFrame>
        </AllSpots><AllTracks>
        <Track TRACK_ID="7"><Edge SPOT_SOURCE_ID="2" SPOT_TARGET_ID="4"/></Track>
        <Track TRACK_ID="3"><Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="3"/></Track>
        <Track TRACK_ID="5"><Edge SPOT_SOURCE_ID="9" SPOT_TARGET_ID="9"/></Track>
        </AllTracks><FilteredTracks><TrackID TRACK_ID="3"/><TrackID TRACK_ID="7"/>
        </FilteredTracks></Model></TrackMate>"""
    )
    df = parse_trackmate(p)
    assert df.values.tolist() == [[0, 0, 5, 6], [0, 1, 20, 10], [1, 0, 6, 7], [1, 1, 21, 11]]


@pytest.mark.parametrize("source", ["isbi", "icy"])
def test_isbi_icy_source_with_stack(tmp_path, source):
    xml = (_isbi_xml if source == "isbi" else _icy_xml)(tmp_path / "seq.xml")
    stack = _stack(tmp_path / "seq.tif")
    pairs = pair_files(
        {
            "dir": {"path": str(tmp_path), "labels_suffix": ".xml", "vid_suffix": ".tif"},
            "source": source,
        }
    )
    assert [(p.video_id, p.video_path, p.format) for p in pairs] == [("seq", stack, source)]
    src = open_source(pairs[0].as_row())
    assert (src.n_frames, src.height, src.width, src.channels) == (3, 16, 32, 1)
    assert src.dtype == np.uint16 and src.intensity_range == (100.0, 300.0)
    assert src.node_names == ["centroid"] and src.track_names == ["0", "1"]
    frames = list(src.iter_frames())
    assert [f.frame_idx for f in frames] == [0, 1, 2]
    assert [[i.track_id for i in f.instances] for f in frames] == [[0, 1], [0], [1]]
    np.testing.assert_allclose(frames[0].instances[1].points, [[20.0, 10.0]])
    assert frames[2].image[0, 0, 0] == 300
    assert parse_isbi_icy(xml, source)["track_id"].tolist() == [0, 0, 1, 1]


def test_frames_folder_with_spaces_natural_sort(tmp_path):
    _isbi_xml(tmp_path / "my seq.xml")
    for i in [0, 1, 2, 10]:  # natural order 0,1,2,10 (lexicographic would put 10 before 2)
        tifffile.imwrite(tmp_path / f"my seq t{i} z0.tif", np.full((8, 8), i, np.uint8))
    spec = {"dir": {"path": str(tmp_path), "labels_suffix": ".xml", "vid_suffix": ".tif"}}
    pairs = pair_files({**spec, "source": "isbi"})
    assert [n.rsplit("/", 1)[-1] for n in pairs[0].extra["frames"]][-2:] == [
        "my seq t2 z0.tif",
        "my seq t10 z0.tif",
    ]
    src = open_source(pairs[0].as_row())
    assert src.n_frames == 4 and [f.image[0, 0, 0] for f in src.iter_frames()] == [0, 1, 2]
    df = discover_dataset("m", {**spec, "source": "isbi"})
    assert df.loc[0, "video_id"] == "my_seq" and df.loc[0, "n_instances"] == 4


def test_explicit_tracks_videos(tmp_path):
    xml = _icy_xml(tmp_path / "a.xml")
    frames = []
    for i in range(3):
        frames.append(tmp_path / f"f{i}.tif")
        tifffile.imwrite(frames[-1], np.zeros((8, 8), np.uint8))
    pairs = pair_files(
        {"tracks": [str(xml)], "videos": [[str(f) for f in frames]], "source": "icy"}
    )
    assert open_source(pairs[0].as_row()).n_instances == 4
    with pytest.raises(ConfigError, match="tracks has 1 entries but videos has 0"):
        pair_files({"tracks": [str(xml)], "videos": [], "source": "icy"})


def test_stack_too_short_and_duplicates(tmp_path):
    xml = _isbi_xml(tmp_path / "s.xml")
    _stack(tmp_path / "s.tif", n=2)
    row = {"format": "isbi", "labels_path": xml, "video_path": tmp_path / "s.tif"}
    with pytest.raises(InputDataError, match="reference frame 2 but .*s.tif has 2 frames"):
        open_source(row)
    src = open_source({**row, "extra": {"truncate_labels": True}})
    assert src.n_instances == 3 and src.n_dropped_beyond == 1
    dup = _icy_xml(tmp_path / "d.xml", DETS + [(0, 0, 9.0, 9.0)])
    _stack(tmp_path / "d.tif", n=3)
    with pytest.raises(InputDataError, match=r"d.xml: frame 0 has 2 detections of track 0"):
        open_source({"format": "icy", "labels_path": dup, "video_path": tmp_path / "d.tif"})


def test_single_page_tiff_frames(tmp_path):
    from dreem.io.tiff_frames import TiffFrames

    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(
        rgb, np.zeros((3, 8, 10), np.uint8), photometric="rgb", planarconfig="separate"
    )
    t = TiffFrames(rgb)
    assert (t.n_frames, t.height, t.width, t.channels) == (1, 8, 10, 3)
    grey = tmp_path / "g.tif"
    tifffile.imwrite(grey, np.zeros((8, 10), np.uint16))
    t = TiffFrames(grey)
    assert (t.n_frames, t.channels, t.dtype) == (1, 1, np.uint16)


def test_wrong_source_and_bad_files(tmp_path):
    xml = _icy_xml(tmp_path / "a.xml")
    with pytest.raises(InputDataError, match="set source: icy"):
        parse_isbi_icy(xml, "isbi")
    with pytest.raises(InputDataError, match="unknown label source 'imaris'"):
        from dreem.io.table_source import parse_table

        parse_table(xml, "imaris")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputDataError, match="bad.csv"):
        parse_trackmate(bad)
    broken = tmp_path / "broken.xml"
    broken.write_text("<root><trackgroup>")
    with pytest.raises(InputDataError, match="broken.xml"):
        parse_isbi_icy(broken, "icy")


def test_frame_prefixes_do_not_overlap(tmp_path):
    _isbi_xml(tmp_path / "a.xml")
    _isbi_xml(tmp_path / "a b.xml")
    for name in ["a t0.tif", "a t1.tif", "a t2.tif", "a b t0.tif", "a b t1.tif", "a b t2.tif"]:
        tifffile.imwrite(tmp_path / name, np.zeros((4, 4), np.uint8))
    spec = {"dir": {"path": str(tmp_path), "labels_suffix": ".xml", "vid_suffix": ".tif"}}
    pairs = {p.video_id: p for p in pair_files({**spec, "source": "isbi"})}
    assert [f.rsplit("/", 1)[-1] for f in pairs["a"].extra["frames"]] == [
        "a t0.tif",
        "a t1.tif",
        "a t2.tif",
    ]
    assert len(pairs["a_b"].extra["frames"]) == 3
