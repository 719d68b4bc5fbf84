"""Clip chunking and ClipDataset over shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_data_fakes import coded_image, install, walking_frames

from dreem.config.data import DatasetSection
from dreem.data.clips import chunk_frames, frame_runs, make_chunks, n_to_keep
from dreem.data.dataset import ClipDataset, collate_single
from dreem.data.extract import extract_video
from dreem.utils.errors import ConfigError, InputDataError

PARAMS = {"crop_size": 6, "padding": 1, "anchors": "thorax", "handle_missing": "drop", "seed": 0}


def test_frame_runs():
    assert frame_runs(np.array([0, 1, 2, 5, 6, 9])) == [(0, 2), (5, 6), (9, 9)]
    assert frame_runs(np.array([], np.int64)) == []


def test_chunking_counts_and_gaps():
    frames = np.arange(100)
    pieces = chunk_frames(frames, 32)
    assert [len(p) for p in pieces] == [32, 32, 32, 4]  # 4 > min(int(3.2), 5) = 3: kept
    assert [len(p) for p in chunk_frames(np.arange(98), 32)] == [32, 32, 32]  # 2-frame tail dropped
    # a gap >= max_batching_gap splits; a smaller one is stitched (gap frames skipped)
    f = np.concatenate([np.arange(0, 10), np.arange(14, 24), np.arange(60, 70)])
    pieces = chunk_frames(f, 32, max_batching_gap=15)
    assert [p.tolist() for p in pieces] == [f[:20].tolist(), f[20:].tolist()]
    assert len(chunk_frames(f, 32, chunk=False)) == 1
    # a short video still yields its one clip
    assert [len(p) for p in chunk_frames(np.arange(2), 32)] == [2]


def test_n_chunks_and_seed_determinism():
    shards = [np.arange(100), np.arange(50)]
    all_refs = make_chunks(shards, clip_length=10)
    assert len(all_refs) == 15
    assert n_to_keep(15, 1.0) == 15 and n_to_keep(15, 1) == 15
    assert n_to_keep(15, 0.5) == 7 and n_to_keep(15, 4) == 4 and n_to_keep(15, 40) == 15
    a = make_chunks(shards, clip_length=10, n_chunks=0.4, seed=3)
    b = make_chunks(shards, clip_length=10, n_chunks=0.4, seed=3)
    c = make_chunks(shards, clip_length=10, n_chunks=0.4, seed=4)
    key = lambda refs: [(r.shard, int(r.frames[0])) for r in refs]  # noqa: E731
    assert len(a) == 6 and key(a) == key(b) and key(a) != key(c)
    with pytest.raises(ConfigError, match="n_chunks"):
        make_chunks(shards, n_chunks=0)


def _shard(monkeypatch, tmp_path, name="v", **kw):
    d = tmp_path / name
    d.mkdir()
    frames = kw.pop("frames", None) or walking_frames(kw.pop("n_frames", 20), 2, **kw)
    row, _ = install(monkeypatch, d, frames)
    out = d / "v.parquet"
    extract_video(row, PARAMS, out, progress=False)
    return out, frames


def test_clip_dataset_on_a_shard(monkeypatch, tmp_path):
    path, frames = _shard(monkeypatch, tmp_path, gaps=(7,))
    ds = ClipDataset(
        [path], DatasetSection.model_validate({"clip_length": 8, "mode": "val"}), seed=0
    )
    assert len(ds) == 3  # 19 labelled frames → 8 + 8 + 3 (3 ≤ tiny limit? min(0, 5)=0: kept)
    clip = ds[0]
    assert clip.crops.shape == (16, 3, 8, 8) and clip.crops.dtype == torch.float32
    assert 0.0 <= float(clip.crops.min()) and float(clip.crops.max()) <= 1.0
    assert torch.equal(clip.crops[:, 0], clip.crops[:, 1])  # grey tiled to 3 channels
    assert clip.boxes.shape == (16, 1, 4) and clip.img_hw == (40, 50)
    assert clip.frame_idx.tolist() == [f for f in [0, 1, 2, 3, 4, 5, 6, 8] for _ in range(2)]
    assert clip.gt_ids.tolist() == [0, 1] * 8 and clip.instance_idx.dtype == torch.int32
    # box normalised by frame height (y) and width (x); centre pixel = frame pixel at anchor
    f, i = int(clip.frame_idx[3]), int(clip.instance_idx[3])
    r, c = np.floor(frames[f][i][1][1, ::-1] + 0.5).astype(int)
    np.testing.assert_allclose(
        clip.boxes[3, 0].numpy(),
        [(r - 4) / 40, (c - 4) / 50, (r + 4) / 40, (c + 4) / 50],
        rtol=1e-6,
    )
    # keypoints in frame pixels, as labelled (validation tracking fits them)
    k = frames[f][i][1].shape[0]
    assert clip.poses.shape == (16, k, 2) and clip.poses.dtype == torch.float32
    np.testing.assert_allclose(clip.poses[3].numpy(), frames[f][i][1], rtol=1e-6)
    img = coded_image(40, 50, f)
    lo, hi = ds.shards[0].intensity_range
    assert clip.crops[3, 0, 4, 4].item() == pytest.approx((img[r, c, 0] - lo) / (hi - lo))
    assert collate_single([clip]) is clip


def test_train_mode_shuffles_within_frames_deterministically(monkeypatch, tmp_path):
    frames = walking_frames(16, 2)
    for f in frames:
        frames[f] = frames[f] + [(2 + k, frames[f][0][1] + 3 * (k + 1)) for k in range(3)]
    path, _ = _shard(monkeypatch, tmp_path, frames=frames)
    ds = ClipDataset(
        [path], DatasetSection.model_validate({"clip_length": 16, "mode": "train"}), seed=1
    )
    a, b = ds[0], ds[0]
    assert torch.equal(a.instance_idx, b.instance_idx)
    assert (a.frame_idx[1:] >= a.frame_idx[:-1]).all()
    orders = [a.instance_idx[a.frame_idx == f].tolist() for f in range(16)]
    assert any(o != sorted(o) for o in orders) and all(sorted(o) == list(range(5)) for o in orders)
    ds.set_epoch(1)
    assert not torch.equal(ds[0].instance_idx, a.instance_idx)
    val = ClipDataset(
        [path], DatasetSection.model_validate({"clip_length": 16, "mode": "val"}), seed=0
    )
    assert val[0].instance_idx.tolist() == list(range(5)) * 16
    assert a.poses is None and val[0].poses.shape == (80, 3, 2)  # only validation tracks


def test_untracked_shard_needs_tracks_for_training(monkeypatch, tmp_path):
    path, _ = _shard(monkeypatch, tmp_path, tracked=False)
    with pytest.raises(InputDataError, match=r"v\.slp has no tracks: fine for tracking"):
        ClipDataset([path], DatasetSection.model_validate({}), seed=0)
    assert (
        len(
            ClipDataset(
                [path],
                DatasetSection.model_validate({"clip_length": 5}),
                seed=0,
                require_tracks=False,
            )
        )
        == 4
    )


def test_dataloader_with_workers(monkeypatch, tmp_path):
    p1, _ = _shard(monkeypatch, tmp_path, "a")
    p2, _ = _shard(monkeypatch, tmp_path, "b", n_frames=12)
    ds = ClipDataset(
        [p1, p2], DatasetSection.model_validate({"clip_length": 10, "mode": "val"}), seed=0
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2, collate_fn=collate_single)
    clips = list(loader)
    assert [len(c) for c in clips] == [20, 20, 20, 4]  # 12 frames → 10 + 2 (2 > tiny limit 1)
    assert [c.video_id for c in clips] == ["v"] * 4


@pytest.mark.parametrize("channels,dtype", [(1, np.uint16), (3, np.uint8)])
def test_clip_channels_are_3_per_anchor(monkeypatch, tmp_path, channels, dtype):
    row, _ = install(monkeypatch, tmp_path, walking_frames(6, 2), channels=channels, dtype=dtype)
    out = tmp_path / "v.parquet"
    params = {"crop_size": 5, "padding": 2, "anchors": ["head", "tail"], "handle_missing": "ignore"}
    extract_video(row, params, out, progress=False)
    clip = ClipDataset(
        [out], DatasetSection.model_validate({"clip_length": 6, "mode": "val"}), seed=0
    )[0]
    assert clip.crops.shape == (12, 6, 9, 9) and clip.boxes.shape == (12, 2, 4)
    if channels == 1:
        assert torch.equal(clip.crops[:, 3], clip.crops[:, 5])  # second anchor, tiled grey
    else:
        assert not torch.equal(clip.crops[:, 0], clip.crops[:, 1])  # real colour kept
