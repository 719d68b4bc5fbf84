"""Evaluating a written tracks file: MOT metrics, plus CTC metrics for cell data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dreem.evaluation.evaluate import evaluate_tracks_file
from dreem.stages import guess_dir_spec, prepare_dataset


def test_cell_tracks_get_ctc_metrics(tmp_path: Path) -> None:
    from dreem.inference.track import track_shard
    from dreem.synth import generate_cells

    data = tmp_path / "cells"
    generate_cells(data, "01", seed=3, n_cells=6, n_frames=8, size=(64, 64))
    shards = prepare_dataset("cells", guess_dir_spec(data), tmp_path / "w", {"crop_size": 16})
    prefix = tmp_path / "tracks" / shards[0].stem
    track_shard("baseline", shards[0], None, prefix, progress=False)
    summary, events = evaluate_tracks_file(Path(f"{prefix}.parquet"), ["idf1", "num_switches"])
    values = dict(zip(summary.metric, summary.value, strict=True))
    assert {"idf1", "num_switches"} <= set(values)
    ctc = {"ctc_det", "ctc_tra", "ctc_lnk"}
    assert ctc <= set(values), f"CTC metrics missing: {sorted(values)}"
    assert all(0.0 <= values[k] <= 1.0 for k in ctc)
    assert not events.empty


def test_animal_tracks_have_no_ctc_rows(tmp_path: Path) -> None:
    from dreem.inference.track import track_shard
    from dreem.synth import generate_animals

    data = tmp_path / "animals"
    generate_animals(data, "clip", seed=1, n_animals=2, n_frames=10, size=(96, 96))
    spec = guess_dir_spec(data)
    shards = prepare_dataset("a", spec, tmp_path / "w", {"crop_size": 16, "anchors": "thorax"})
    prefix = tmp_path / "tracks" / shards[0].stem
    track_shard("baseline", shards[0], None, prefix, progress=False)
    summary, _ = evaluate_tracks_file(Path(f"{prefix}.parquet"))
    assert not any(str(m).startswith("ctc_") for m in summary.metric)
    assert pd.notna(summary.value).all()


def _gt_shard(path: Path) -> Path:
    """A ground-truth shard: 3 frames, ids 0 and 1 at fixed, well-separated centroids."""
    import numpy as np

    from dreem.io.shards import InstanceRecord, ShardMeta, ShardWriter

    meta = ShardMeta(
        video_id="v",
        source_format="slp",
        labels_path="gt.slp",
        video_path="v.mp4",
        params={"n_anchors": 1},
        sources={},
        frame_height=100,
        frame_width=100,
        n_frames=3,
        channels=1,
        dtype="uint8",
        crop_hw=(4, 4),
        anchor_names=["c"],
    )
    with ShardWriter(path, meta) as w:
        for f in range(3):
            recs = []
            for i, (x, y) in enumerate([(20.0, 20.0), (70.0, 70.0)]):
                box = np.array([[y - 2, x - 2, y + 2, x + 2]], np.float32)
                recs.append(
                    InstanceRecord(
                        f,
                        i,
                        i,
                        None,
                        1.0,
                        (x, y),
                        box,
                        np.zeros((0, 2)),
                        np.zeros((1, 1, 4, 4), np.uint8),
                    )
                )
            w.add_frame(recs)
    return path


def test_detection_level_file_evaluation(tmp_path: Path) -> None:
    gt = _gt_shard(tmp_path / "gt.parquet")
    rows = []
    for f in range(3):
        for i, (x, y) in enumerate([(21.0, 20.0), (69.0, 71.0)]):
            if f == 1 and i == 1:
                continue  # a dropped detection -> one miss
            rows.append(
                {
                    "frame_idx": f,
                    "instance_idx": i,
                    "track_id": i,
                    "gt_track_id": -1,
                    "centroid_x": x,
                    "centroid_y": y,
                }
            )
    rows.append(
        {
            "frame_idx": 2,
            "instance_idx": 2,
            "track_id": 5,
            "gt_track_id": -1,
            "centroid_x": 45.0,
            "centroid_y": 45.0,
        }
    )  # spurious -> one false positive
    tracks = tmp_path / "pred.parquet"
    pd.DataFrame(rows).to_parquet(tracks)
    summary, _ = evaluate_tracks_file(
        tracks,
        ["num_misses", "num_false_positives", "num_switches"],
        gt_shard=gt,
        match="centroid",
        threshold=5.0,
    )
    v = dict(zip(summary.metric, summary.value, strict=True))
    assert (v["num_misses"], v["num_false_positives"], v["num_switches"]) == (1, 1, 0)
