"""The crop shard format: round trip, streaming, staleness."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dreem.io.shards import (
    InstanceRecord,
    ShardMeta,
    ShardWriter,
    file_signature,
    is_shard_current,
    iter_shard,
    read_meta,
    read_shard,
)


def _meta(src, n_anchors=2, dtype="uint16"):
    return ShardMeta(
        video_id="v",
        source_format="slp",
        labels_path=str(src),
        video_path=str(src),
        params={"crop_size": 4, "padding": 1, "n_anchors": n_anchors},
        sources={str(src): file_signature(src)},
        frame_height=20,
        frame_width=30,
        n_frames=10,
        channels=1,
        dtype=dtype,
        crop_hw=(6, 6),
        anchor_names=["a", "b"][:n_anchors],
        node_names=["a", "b", "c"],
        intensity_range=(0.0, 1000.0),
    )


def _record(frame, inst, rng, n_anchors=2, dtype="uint16"):
    return InstanceRecord(
        frame_idx=frame,
        instance_idx=inst,
        gt_track_id=inst,
        gt_track_name=f"t{inst}",
        score=1.0,
        centroid=(float(frame), float(inst)),
        bbox=rng.random((n_anchors, 4)),
        pose=rng.random((3, 2)),
        crop=rng.integers(0, 1000, (n_anchors, 1, 6, 6)).astype(dtype),
    )


def test_round_trip_preserves_every_column(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    rng = np.random.default_rng(0)
    recs = [[_record(f, i, rng) for i in range(3)] for f in range(5)]
    path = tmp_path / "s.parquet"
    with ShardWriter(path, _meta(src), rows_per_group=4) as w:
        for frame in recs:
            w.add_frame(frame)
    data = read_shard(path)
    flat = [r for frame in recs for r in frame]
    assert len(data) == 15
    assert data.crops.dtype == np.uint16 and data.crops.shape == (15, 2, 1, 6, 6)
    np.testing.assert_array_equal(data.crops[7], flat[7].crop)
    np.testing.assert_allclose(data.bbox[7], flat[7].bbox, rtol=1e-6)
    np.testing.assert_allclose(data.pose[7], flat[7].pose, rtol=1e-6)
    assert data.gt_track_name[4] == "t1"
    norm = data.normalized_crops(np.array([7]))
    assert norm.shape == (1, 2, 6, 6)
    np.testing.assert_allclose(norm[0, 0], flat[7].crop[0, 0] / 1000.0, rtol=1e-6)
    # streaming yields whole frames and the same rows
    parts = list(iter_shard(path))
    assert sum(len(p) for p in parts) == 15
    for p in parts:
        assert len(p) % 3 == 0
    assert read_meta(path).crop_hw == (6, 6)


def test_staleness_detects_params_and_source_changes(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    path = tmp_path / "s.parquet"
    meta = _meta(src)
    with ShardWriter(path, meta) as w:
        w.add_frame([_record(0, 0, np.random.default_rng(0))])
    assert is_shard_current(path, meta.params, [str(src)])
    assert not is_shard_current(path, {**meta.params, "crop_size": 8}, [str(src)])
    src.write_bytes(b"xyz")
    assert not is_shard_current(path, meta.params, [str(src)])


def test_failed_write_leaves_no_file(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    path = tmp_path / "s.parquet"
    with pytest.raises(RuntimeError):
        with ShardWriter(path, _meta(src)) as w:
            w.add_frame([_record(0, 0, np.random.default_rng(0))])
            raise RuntimeError("killed")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_reading_a_shard_leaves_pyarrow_dataset_unimported(tmp_path):
    """``read_shard`` reads through ``pq.ParquetFile``: ``pq.read_table`` would import
    ``pyarrow.dataset`` (0.2-0.4 s of every training and tracking process); a column
    subset (no crops) reads the same rows."""
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    path = tmp_path / "s.parquet"
    with ShardWriter(path, _meta(src), rows_per_group=2) as w:
        for f in range(3):
            w.add_frame([_record(f, i, np.random.default_rng(f)) for i in range(2)])
    code = (
        "import sys\n"
        "from dreem.io.shards import read_shard\n"
        f"full, meta_only = read_shard({str(path)!r}), read_shard({str(path)!r}, False)\n"
        "print(len(full), full.crops.shape, meta_only.crops, meta_only.frame_idx.tolist(),\n"
        "      'pyarrow.dataset' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "6 (6, 2, 1, 6, 6) None [0, 0, 1, 1, 2, 2] False"
