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
