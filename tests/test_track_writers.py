"""Native outputs of track_shard: SLEAP .slp write-back and CTC _RES folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import FakeModel, synthetic_positions, write_synthetic_shard

from dreem.config.dreem import DreemConfig
from dreem.config.tracker import TrackerConfig
from dreem.inference.track import track_shard
from dreem.inference.writers import track_segments


def _make_slp(path: Path, n_frames: int, pos: np.ndarray) -> None:
    import sleap_io as sio

    skel = sio.Skeleton(["head", "tail"])
    video = sio.Video(filename=str(path.with_suffix(".mp4")), open_backend=False)
    tracks = [sio.Track(name="input_A"), sio.Track(name="input_B")]
    frames = []
    for f in range(n_frames):
        insts = []
        for k in range(pos.shape[1]):
            x, y = pos[f, k]
            pts = np.array([[x - 2, y], [x + 2, y]])
            insts.append(sio.Instance.from_numpy(pts, skeleton=skel, track=tracks[1 - k]))
        if f == 2:  # an all-NaN instance: never in the shard, kept untracked
            insts.append(sio.Instance.from_numpy(np.full((2, 2), np.nan), skeleton=skel))
        frames.append(sio.LabeledFrame(video=video, frame_idx=f, instances=insts))
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skel], tracks=tracks)
    sio.save_slp(labels, str(path))


def test_slp_roundtrip_every_instance_once(tmp_path):
    import sleap_io as sio

    n_frames = 8
    pos = synthetic_positions(n_frames, 2)
    slp = tmp_path / "in.slp"
    _make_slp(slp, n_frames, pos)
    shard = write_synthetic_shard(
        tmp_path / "s.parquet",
        n_frames=n_frames,
        n_animals=2,
        gt_offset=0,
        source_format="slp",
        labels_path=str(slp),
        video_path=str(slp.with_suffix(".mp4")),
    )
    cfg = TrackerConfig(confidence_threshold=0.999999)  # flag some frames as uncertain
    model = (FakeModel(1.0), DreemConfig())
    table = track_shard(model, shard, cfg, tmp_path / "o" / "v", progress=False)
    out = sio.load_slp(str(tmp_path / "o" / "v.slp"), open_videos=False)
    assert len(out.videos) == 1 and len(out.labeled_frames) == n_frames
    assert {t.name for t in out.tracks} == {"track_0", "track_1"}
    n_inst = sum(len(lf.instances) for lf in out.labeled_frames)
    assert n_inst == 2 * n_frames + 1
    pred = {(r.frame_idx, r.instance_idx): r for r in table.itertuples()}
    for lf in out.labeled_frames:
        for i, inst in enumerate(lf.instances):
            row = pred.get((lf.frame_idx, i))
            if row is None:
                assert inst.track is None and np.isnan(inst.numpy()).all()
            else:
                assert inst.track.name == f"track_{row.track_id}"
                assert inst.tracking_score == pytest.approx(row.confidence)
                np.testing.assert_allclose(inst.numpy().mean(0), pos[lf.frame_idx, i], atol=1e-4)
    assert len(out.suggestions) > 0


def test_slp_names_video_relative_to_itself_and_keeps_fps(tmp_path):
    """Results and data can move together: the output .slp names its video by a path
    relative to itself, keeps the video's metadata and records the container's fps."""
    import os

    import sleap_io as sio

    from dreem.synth.animals import generate_animals

    data = tmp_path / "data"
    slp, mp4 = generate_animals(data, "clip", seed=0, n_animals=2, n_frames=6, size=(32, 32))
    shard = write_synthetic_shard(
        tmp_path / "s.parquet",
        n_frames=6,
        n_animals=2,
        source_format="slp",
        labels_path=str(slp),
        video_path=str(mp4),
    )
    track_shard("baseline", shard, None, tmp_path / "res" / "m" / "clip", progress=False)
    moved = tmp_path / "moved"
    moved.mkdir()
    os.rename(data, moved / "data")
    os.rename(tmp_path / "res", moved / "res")
    out = moved / "res" / "m" / "clip.slp"
    labels = sio.load_slp(str(out), open_videos=False)
    video = labels.videos[0]
    assert video.filename == "../../data/clip.mp4"
    assert video.backend_metadata["fps"] == 25.0
    assert video.backend_metadata["shape"][1:3] == [32, 32]
    old = Path.cwd()
    os.chdir(out.parent)  # how sleap-io resolves a relative path: from the working dir
    try:
        opened = sio.load_slp(out.name).videos[0]
        assert opened.exists() and opened.shape[1:3] == (32, 32)
    finally:
        os.chdir(old)


def _make_ctc(root: Path, n_frames: int, present) -> tuple[Path, Path]:
    import tifffile

    raw, tra = root / "01", root / "01_GT" / "TRA"
    raw.mkdir(parents=True)
    tra.mkdir(parents=True)
    for f in range(n_frames):
        m = np.zeros((32, 32), np.uint16)
        for lab, (y, x) in {3: (8, 4 + f), 9: (24, 4 + f)}.items():
            if present(f, lab):
                m[y - 2 : y + 2, x - 2 : x + 2] = lab
        tifffile.imwrite(tra / f"man_track{f:03d}.tif", m)
        tifffile.imwrite(raw / f"t{f:03d}.tif", (m > 0).astype(np.uint8) * 200)
    return raw, tra


def _ctc_shard(path: Path, raw: Path, tra: Path, n_frames: int, present) -> Path:
    from dreem.io.shards import InstanceRecord, ShardMeta, ShardWriter

    meta = ShardMeta(
        "01",
        "ctc",
        str(tra),
        str(raw),
        {},
        {},
        32,
        32,
        n_frames,
        1,
        "uint8",
        (4, 4),
        ["centroid"],
        ["centroid"],
    )
    with ShardWriter(path, meta) as w:
        for f in range(n_frames):
            recs = []
            labs = [lab for lab in (3, 9) if present(f, lab)]
            for rank, lab in enumerate(labs):
                y, x = (8.0 if lab == 3 else 24.0), 4.0 + f
                recs.append(
                    InstanceRecord(
                        f,
                        rank,
                        lab,
                        str(lab),
                        1.0,
                        (x - 0.5, y - 0.5),
                        np.array([[y - 2, x - 2, y + 2, x + 2]], np.float32),
                        np.array([[x, y]], np.float32),
                        np.zeros((1, 1, 4, 4), np.uint8),
                    )
                )
            w.add_frame(recs)
    return path


def test_ctc_res_relabelled_and_lineage_consistent(tmp_path):
    import tifffile

    n = 6

    def present(f, lab):  # label 9 disappears in frames 2-3 and comes back
        return lab == 3 or f not in (2, 3)

    raw, tra = _make_ctc(tmp_path, n, present)
    shard = _ctc_shard(tmp_path / "s.parquet", raw, tra, n, present)
    table = track_shard("baseline", shard, None, tmp_path / "o" / "01", progress=False)
    res = tmp_path / "o" / "01_RES"
    files = sorted(res.glob("mask*.tif"))
    assert [f.name for f in files] == [f"mask{f:03d}.tif" for f in range(n)]
    lines = [
        tuple(map(int, ln.split())) for ln in (res / "res_track.txt").read_text().split("\n") if ln
    ]
    spans = {lab: (b, e, p) for lab, b, e, p in lines}
    # track 0 (label 3 in GT) is continuous; track 1 is split into two segments with a parent
    assert spans[1] == (0, n - 1, 0)
    assert spans[2] == (0, 1, 0)
    assert spans[3] == (4, n - 1, 2)
    for f, path in enumerate(files):
        m = tifffile.imread(path)
        assert m.dtype == np.uint16
        gt = tifffile.imread(tra / f"man_track{f:03d}.tif")
        assert set(np.unique(m)) - {0} == {lab for lab, (b, e, _) in spans.items() if b <= f <= e}
        assert np.array_equal(m > 0, gt > 0)  # masks kept, only relabelled
    assert set(table.track_id) == {0, 1}


def test_track_segments_splits_gaps():
    t = pd.DataFrame({"track_id": [0, 0, 0, 1, -1], "frame_idx": [0, 1, 5, 2, 3]})
    segs = track_segments(t)
    assert segs[["label", "begin", "end", "parent"]].values.tolist() == [
        [1, 0, 1, 0],
        [3, 5, 5, 1],
        [2, 2, 2, 0],
    ]


DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (DATA / "sleap" / "two_flies.slp").is_file(), reason="no shared data")
def test_two_flies_real_model_checkpoint_and_baseline(tmp_path):
    import sleap_io as sio
    import torch

    from dreem.config import load_dreem_config
    from dreem.data.extract import extract_video
    from dreem.evaluation.evaluate import evaluate_tracks
    from dreem.io.discover import discover_dataset, manifest_rows
    from dreem.models.gtr import GlobalTrackingTransformer

    spec = {"dir": {"path": str(DATA / "sleap"), "labels_suffix": ".slp", "vid_suffix": ".mp4"}}
    row = next(
        r for r in manifest_rows(discover_dataset("f", spec)) if r["video_id"] == "two_flies"
    )
    shard = tmp_path / "two_flies.parquet"
    extract_video(row, {"crop_size": 16, "anchors": "centroid"}, shard, progress=False)

    base = track_shard("baseline:centroid", shard, None, tmp_path / "b" / "two_flies", False)
    s, _ = evaluate_tracks(base)
    assert float(s.set_index("metric").value["num_switches"]) == 0

    cfg = load_dreem_config({"model": {"d_model": 32}})
    torch.manual_seed(0)
    model = GlobalTrackingTransformer(cfg.model)
    ckpt = tmp_path / "m.ckpt"
    state = {"model." + k: v for k, v in model.state_dict().items()}
    torch.save({"hyper_parameters": cfg.to_dict(), "state_dict": state}, ckpt)
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    short = tmp_path / "short" / "two_flies.parquet"  # first 16 frames keep the test fast
    short.parent.mkdir()
    full = pq.read_table(shard)
    pq.write_table(full.filter(pc.less(full["frame_idx"], 16)), short)
    table = track_shard(
        ckpt, short, TrackerConfig(window_size=4), tmp_path / "m" / "two_flies", False
    )
    assert len(table) == 32 and table.track_id.min() >= 0
    assert table.confidence.between(0, 1).all()
    out = sio.load_slp(str(tmp_path / "m" / "two_flies.slp"), open_videos=False)
    insts = [i for lf in out.labeled_frames for i in lf.instances]
    assert len(insts) == len(base)  # every input instance once; beyond frame 15 untracked
    assert sum(i.track is not None for i in insts) == len(table)
    assert {t.name for t in out.tracks} == {f"track_{i}" for i in table.track_id.unique()}


@pytest.mark.skipif(not (DATA / "microscopy" / "cell_tracking").is_dir(), reason="no shared data")
def test_real_ctc_sequence_res_scores(tmp_path):
    from dreem.data.extract import extract_video
    from dreem.evaluation.evaluate import evaluate_ctc
    from dreem.io.discover import discover_dataset, manifest_rows

    spec = {
        "dir": {
            "path": str(DATA / "microscopy" / "cell_tracking"),
            "labels_suffix": ".tif",
            "vid_suffix": ".tif",
        }
    }
    row = manifest_rows(discover_dataset("cells", spec))[0]
    shard = tmp_path / "c.parquet"
    extract_video(row, {"crop_size": 16, "anchors": "centroid"}, shard, progress=False)
    track_shard("baseline", shard, None, tmp_path / "o" / "c", False)
    s = evaluate_ctc(tmp_path / "o" / "c_RES", row["labels_path"]).set_index("metric").value
    assert s["ctc_det"] == 1.0  # masks are the GT masks, relabelled
    assert 0.9 < s["ctc_tra"] <= 1.0


def _slp_content(path: Path):
    import sleap_io as sio

    labels = sio.load_slp(str(path), open_videos=False)
    insts = []
    for lf in sorted(labels.labeled_frames, key=lambda x: x.frame_idx):
        for inst in lf.instances:
            ts = inst.tracking_score
            insts.append(
                (
                    lf.frame_idx,
                    type(inst).__name__,
                    np.nan_to_num(inst.numpy(), nan=-1.0).tolist(),
                    inst.track.name if inst.track else None,
                    None if ts is None or np.isnan(ts) else round(float(ts), 5),
                    round(float(getattr(inst, "score", 0.0) or 0.0), 5),
                )
            )
    tracks = [t.name for t in labels.tracks]
    suggestions = [s.frame_idx for s in labels.suggestions]
    return insts, tracks, suggestions, labels.videos[0].filename, len(labels.videos)


def test_slp_flat_writer_matches_object_writer(tmp_path, monkeypatch):
    """The flat-array .slp writer (one-video files) writes what the object writer writes:
    user and predicted instances, unassigned ones, NaN nodes, tracks sorted by id."""
    from types import SimpleNamespace

    from test_io_fixtures import make_slp, make_video

    from dreem.inference import writers

    vid = make_video(tmp_path / "v.mp4", 4)
    nan_node = [[1.0, 2.0], [np.nan, np.nan]]
    frames = {
        0: [([[9.0, 9.0], [8.0, 8.0]], 0, 0.7), ([[1.0, 1.0], [2.0, 2.0]], 1, None)],
        1: [(nan_node, None, 0.2), ([[5.0, 5.0], [6.0, 6.0]], 0, None)],
        3: [([[4.0, 4.0], [3.0, 3.0]], 1, 0.9)],
    }
    slp = make_slp(tmp_path / "in.slp", [vid], frames)
    table = pd.DataFrame(  # (frame, instance) -> id; frame 1 instance 1 and frame 3 unassigned
        {
            "frame_idx": [0, 0, 1, 1, 3],
            "instance_idx": [0, 1, 0, 1, 0],
            "track_id": [7, 2, 2, -1, -1],
            "confidence": [0.9, 0.8, 0.6, 0.0, 0.0],
        }
    )
    meta = SimpleNamespace(
        labels_path=str(slp), video_path=str(vid), slp_video_index=0, source_format="slp"
    )
    data = SimpleNamespace(meta=meta)
    writers._write_slp_objects(table, data, tmp_path / "obj.slp", [1], None)

    def no_objects(*args):
        raise AssertionError("a one-video file goes through the flat writer")

    monkeypatch.setattr(writers, "_write_slp_objects", no_objects)
    writers.write_slp(table, data, tmp_path / "flat.slp", [1])
    flat, objects = _slp_content(tmp_path / "flat.slp"), _slp_content(tmp_path / "obj.slp")
    assert flat == objects
    assert flat[1] == ["track_2", "track_7"] and flat[2] == [1]
    assert flat[3] == writers.video_reference(vid, tmp_path / "flat.slp") == "v.mp4"
