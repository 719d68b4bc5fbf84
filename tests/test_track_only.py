"""The daily job: a pipeline with only a ``track:`` section tracks new, untracked SLEAP
predictions (``x.predictions.slp`` next to ``x.mp4``) and cell movies with a model trained
earlier; and the example config for "my SLEAP project" plans as documented."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_device import _tiny_checkpoint
from test_workflow import REPO, planned, run_smk

N_FRAMES = 12


def make_predictions(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` generated clips as ``clip{k}.mp4`` + untracked ``clip{k}.predictions.slp``
    (some detections missing, as from a real pose model)."""
    from dreem.synth.animals import generate_animals, write_predictions

    out = []
    for k in range(n):
        slp, _ = generate_animals(
            folder, f"clip{k}", seed=seed + k, n_animals=3, n_frames=N_FRAMES, size=(64, 64)
        )
        pred = write_predictions(slp, folder / f"clip{k}.predictions.slp", seed=k, miss_rate=0.1)
        slp.unlink()  # only the predictions are next to the video
        out.append(pred)
    return out


def _instances(labels) -> list[tuple[int, tuple]]:
    return sorted(
        (int(lf.frame_idx), tuple(np.round(inst.numpy(), 3).ravel().tolist()))
        for lf in labels.labeled_frames
        for inst in lf.instances
    )


@pytest.mark.slow
def test_track_only_pipeline_on_untracked_predictions_and_cells(tmp_path: Path) -> None:
    import cv2
    import sleap_io as sio

    from dreem.synth.cells import generate_cells

    preds = make_predictions(tmp_path / "new videos", 2)
    generate_cells(tmp_path / "cells", "01", seed=0, n_cells=3, n_frames=6, size=(48, 48))
    ckpt = _tiny_checkpoint(tmp_path)
    cfg = {
        "output_dir": "out",
        "datasets": {
            "new": {
                "dir": {
                    "path": "new videos",
                    "labels_suffix": ".predictions.slp",
                    "vid_suffix": ".mp4",
                },
                "crop_size": 16,
            },
            "cells": {
                "dir": {"path": "cells", "labels_suffix": ".tif", "vid_suffix": ".tif"},
                "crop_size": 16,
            },
        },
        "models": {"gtr": {"checkpoint": str(ckpt)}, "baseline": {"baseline": "centroid"}},
        "track": {"datasets": ["new", "cells"], "models": ["gtr", "baseline"], "render": True},
    }
    path = tmp_path / "track only.yaml"
    path.write_text(yaml.safe_dump(cfg))
    jobs = planned(tmp_path, path)
    assert jobs["track"] == 6 and jobs["render"] == 6  # (2 clips + 1 movie) x 2 models
    assert "evaluate" not in jobs and "aggregate" not in jobs and "train" not in jobs
    run_smk(tmp_path, path)

    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for model in ("gtr", "baseline"):
        for k, pred in enumerate(preds):
            slp = out / "tracks" / model / "new" / f"clip{k}.slp"
            old = Path.cwd()
            os.chdir(elsewhere)  # opened from anywhere (video path relative to the .slp)
            try:
                labels = sio.load_slp(str(slp))
            finally:
                os.chdir(old)
            source = sio.load_slp(str(pred), open_videos=False)
            insts = [i for lf in labels.labeled_frames for i in lf.instances]
            assert all(isinstance(i, sio.PredictedInstance) for i in insts)
            assert all(i.track is not None for i in insts), "every instance tracked"
            assert _instances(labels) == _instances(source), "each instance exactly once"
            assert len(labels.tracks) >= 3 and labels.videos[0].backend_metadata["fps"] == 25.0
            assert not Path(labels.videos[0].filename).is_absolute()
            table = pd.read_csv(out / "tracks" / model / "new" / f"clip{k}.csv")
            assert len(table) == len(insts) and (table.track_id >= 0).all()
            mp4 = out / "videos" / model / "new" / f"clip{k}.mp4"
            cap = cv2.VideoCapture(str(mp4))
            assert cap.get(cv2.CAP_PROP_FPS) == 25 and cap.get(cv2.CAP_PROP_FRAME_HEIGHT) >= 480
        res = out / "tracks" / model / "cells" / "01_RES"
        assert (res / "res_track.txt").read_text().strip()
        assert len(list(res.glob("mask*.tif"))) == 6
        assert (out / "videos" / model / "cells" / "01.mp4").stat().st_size > 0
    assert not (out / "summary").exists() and not (out / "metrics").exists()


def _example_workdir(root: Path) -> Path:
    """A working directory holding the example config, the DREEM config it names and a
    tiny project laid out as the example describes."""
    from dreem.synth.animals import generate_animals

    work = root / "lab"
    (work / "config" / "examples").mkdir(parents=True)
    for rel in ("config/examples/my_sleap_project.yaml", "config/dreem_train.yaml"):
        shutil.copy(REPO / rel, work / rel)
    for split, n in (("train", 2), ("val", 1), ("test", 1)):
        for k in range(n):
            generate_animals(
                work / "my_project" / "proofread" / split, f"{split}{k}", seed=k, n_frames=8
            )
    make_predictions(work / "my_project" / "new_videos", 3, seed=10)
    return work


def test_example_sleap_project_config_plans_train_evaluate_and_track(tmp_path: Path) -> None:
    """config/examples/my_sleap_project.yaml (README): train on the proofread clips, report
    on the held-out proofread clip, track every new video; dry run in a project folder."""
    from dreem.config.pipeline import load_pipeline_config
    from dreem.pipeline.plan import Plan

    work = _example_workdir(tmp_path)
    cfg_path = work / "config" / "examples" / "my_sleap_project.yaml"
    old = Path.cwd()
    os.chdir(work)
    try:
        plan = Plan(load_pipeline_config(yaml.safe_load(cfg_path.read_text())))
    finally:
        os.chdir(old)
    assert set(plan.trained()) == {"gtr"}
    tracked = {(m, d) for m, d, _ in plan.track_jobs()}
    assert ("gtr", "new_videos") in tracked
    assert all(d != "new_videos" for _, d, _ in plan.eval_jobs()), "no ground truth: no eval"
    assert plan.video_ids("new_videos") == ["clip0", "clip1", "clip2"]
    jobs = planned(work, cfg_path)
    n_eval = len(plan.eval_jobs())
    assert jobs["train"] == 1 and jobs["aggregate"] == 1 and jobs["evaluate"] == n_eval
    assert jobs["track"] == n_eval + 3  # evaluated clips + every new video


def test_evaluating_untracked_predictions_fails_at_discovery(tmp_path: Path) -> None:
    """The pipeline's discover job (and so the CLI) refuses to evaluate data without
    ground-truth tracks, naming the dataset and the track: section, before any tracking."""
    from dreem.config.pipeline import load_pipeline_config
    from dreem.pipeline import run
    from dreem.pipeline.plan import Plan
    from dreem.utils.errors import InputDataError

    make_predictions(tmp_path / "new", 2)
    spec = {"dir": {"path": str(tmp_path / "new"), "labels_suffix": ".slp", "vid_suffix": ".mp4"}}
    cfg = {
        "output_dir": str(tmp_path / "out"),
        "datasets": {"new": spec},
        "models": {"baseline": {"baseline": "centroid"}},
        "evaluate": {"datasets": ["new"], "models": ["baseline"]},
    }
    with pytest.raises(
        InputDataError, match=r"datasets.new .*no ground-truth tracks in clip0, clip1"
    ):
        run.prepare(Plan(load_pipeline_config(cfg)), progress=False)
    assert not (tmp_path / "out" / "datasets" / "new" / "crops").exists()
    cfg = {**cfg, "evaluate": {}, "track": {"datasets": ["new"], "models": ["baseline"]}}
    assert len(run.prepare(Plan(load_pipeline_config(cfg)), progress=False)) == 2
