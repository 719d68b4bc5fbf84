"""Streamed features: encoded once, just ahead of the tracker, forgotten when no longer needed.

Tracking with them must give exactly what tracking with every feature in memory gives,
while holding only a window of rows, also when tracks end and their ids come back
(``max_gap`` + ``max_tracks``: expired tracks' queues are still asked about).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import FakeModel, write_synthetic_shard

from dreem.config.tracker import TrackerConfig
from dreem.inference.features import StreamedFeatures, encode_batches, encode_shard
from dreem.inference.track import model_associate
from dreem.inference.tracker import Tracker
from dreem.io.shards import read_shard


class _SmallConv(torch.nn.Module):
    """A real (random) conv encoder, so batching could matter numerically."""

    d_model = 8

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3)

    def encode(self, x):
        return self.conv(x).mean(dim=(2, 3))

    def associate(self, ref_feats, ref_boxes, ref_times, query_feats, query_boxes, query_times):
        return [query_feats @ ref_feats.T]


def _track(model, feats, data, cfg):
    tracker = Tracker(cfg)
    if not isinstance(feats, torch.Tensor):
        feats.live_rows = tracker.queued_rows
    assoc = model_associate(model, feats, data.bbox, data.frame_idx)
    return tracker.track_video(assoc, data.frame_idx, data.bbox, data.centroid)


@pytest.mark.parametrize(
    "tracker",
    [{"window_size": 4}, {"window_size": 3, "max_gap": 2, "max_tracks": 3}],
)
def test_streamed_features_track_like_all_features(tmp_path, monkeypatch, tracker):
    drop = {(f, 1) for f in range(30, 60)} | {(f, 2) for f in range(100, 104)}
    shard = write_synthetic_shard(
        tmp_path / "s.parquet", n_frames=400, n_animals=3, crop=8, rows_per_group=100, drop=drop
    )
    data = read_shard(shard, with_crops=False)
    cfg = TrackerConfig.model_validate(tracker)
    monkeypatch.setattr(StreamedFeatures, "COMPACT_AT", 64)  # clean up often
    for model in (FakeModel(), _SmallConv()):
        everything = _track(model, encode_shard(model, shard, batch_size=16), data, cfg)
        streamed = StreamedFeatures(model, shard, data.frame_idx, batch_size=16)
        result = _track(model, streamed, data, cfg)
        assert np.array_equal(result.track_id, everything.track_id)
        assert np.array_equal(result.confidence, everything.confidence)
        assert streamed.peak_rows < 200 < len(data)  # a window, not the video


def test_batches_are_the_same_streamed_or_not(tmp_path):
    shard = write_synthetic_shard(
        tmp_path / "s.parquet", n_frames=50, n_animals=3, crop=8, rows_per_group=7
    )
    model = _SmallConv()
    sizes = [len(b) for b in encode_batches(model, shard, batch_size=16)]
    assert sizes == [16] * 9 + [6]  # 150 rows in batches across row groups
    data = read_shard(shard, with_crops=False)
    streamed = StreamedFeatures(model, shard, data.frame_idx, batch_size=16)
    ref, query = np.arange(0, 40), np.arange(140, 150)
    f_ref, f_q = streamed.gather(ref, query)
    full = encode_shard(model, shard, batch_size=16)
    assert torch.equal(f_ref, full[:40]) and torch.equal(f_q, full[140:])


def test_released_rows_are_an_error_not_a_wrong_answer(tmp_path, monkeypatch):
    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=200, n_animals=2, crop=8)
    data = read_shard(shard, with_crops=False)
    monkeypatch.setattr(StreamedFeatures, "COMPACT_AT", 32)
    streamed = StreamedFeatures(FakeModel(), shard, data.frame_idx, batch_size=16)
    streamed.gather(np.array([0]), np.array([1]))
    streamed.gather(np.array([], np.int64), np.array([398, 399]))  # nothing queued: row 0 goes
    with pytest.raises(RuntimeError, match="released"):
        streamed.gather(np.array([0]), np.array([399]))
