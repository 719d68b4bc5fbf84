"""``dreem train`` extracts its crops in a child process while it imports the training
libraries (dreem.pipeline.prepare_worker): the same shards as in-process preparation, the
same errors, and a cancelled child leaves no temporary or partial shard behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dreem.pipeline import run
from dreem.pipeline.code import job_code
from dreem.pipeline.prepare_worker import BackgroundPreparation, preparing
from dreem.stages import _plan, train_from_config
from dreem.synth import generate_animals
from dreem.utils.errors import ConfigError, DreemError


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    generate_animals(root, "a", seed=0, n_animals=2, n_frames=8)
    generate_animals(root, "b", seed=1, n_animals=3, n_frames=8)
    return root


def _config(clips: Path, out: Path, anchor: str = "centroid") -> dict:
    spec = {"path": str(clips), "labels_suffix": ".slp", "vid_suffix": ".mp4"}
    return {
        "output_dir": str(out),
        "datasets": {"d": {"dir": spec, "anchors": anchor, "crop_size": 32}},
        "models": {"m": {"baseline": "centroid"}},
        "track": {"datasets": ["d"], "models": ["m"]},
    }


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def test_child_writes_the_shards_in_process_preparation_writes(clips, tmp_path) -> None:
    shards = BackgroundPreparation(_config(clips, tmp_path / "child"), progress=False).result()
    here = run.prepare(_plan(_config(clips, tmp_path / "here")), progress=False)
    assert (
        [Path(p).name for p in shards]
        == [Path(p).name for p in here]
        == [
            "a.parquet",
            "b.parquet",
        ]
    )
    for mine, theirs in zip(shards, here, strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(mine), pd.read_parquet(theirs))
    assert _leftovers(tmp_path) == []


def test_child_reports_the_training_jobs_code_version(clips, tmp_path) -> None:
    """The child also computes the training job's code version (parsing the package's
    sources), which the parent records with the model: the value the parent would get."""
    child = BackgroundPreparation(_config(clips, tmp_path), progress=False)
    assert child.train_code == job_code("train_job")
    assert set(child.train_code) == {"version", "sources"}


def test_an_error_in_the_child_is_raised_in_the_parent_unchanged(clips, tmp_path) -> None:
    with pytest.raises(ConfigError) as here:
        run.prepare(_plan(_config(clips, tmp_path / "here", "nosuchnode")), progress=False)
    child = BackgroundPreparation(_config(clips, tmp_path / "child", "nosuchnode"), False)
    with pytest.raises(ConfigError) as there:
        child.result()
    assert str(there.value) == str(here.value)
    assert "nosuchnode" in str(there.value) and "a.slp" in str(there.value)


def test_a_child_that_dies_without_an_answer_is_a_clear_error(clips, tmp_path) -> None:
    child = BackgroundPreparation(_config(clips, tmp_path), progress=False)
    os.kill(child._proc.pid, signal.SIGKILL)
    with pytest.raises(DreemError, match="data preparation process stopped"):
        child.result()


def test_a_failing_block_cancels_the_child_leaving_no_partial_output(clips, tmp_path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="names"), preparing(_config(clips, out), False) as c:
        raise RuntimeError("bad names")
    assert c._proc.returncode is not None  # reaped
    assert _leftovers(tmp_path) == []
    for shard in out.rglob("*.parquet"):  # any shard there is complete
        assert len(pd.read_parquet(shard)) > 0


def test_train_reports_bad_names_while_the_child_extracts(clips, tmp_path) -> None:
    """An unknown augmentation is still reported by ``dreem train`` (now checked while the
    child extracts), naming the key; nothing partial is left."""
    cfg = {
        "dataset": {
            "train_dataset": {
                "dir": {"path": str(clips), "labels_suffix": ".slp", "vid_suffix": ".mp4"},
                "crop_size": 32,
                "clip_length": 4,
                "augmentations": {"NoSuchAugmentation": {"p": 1.0}},
            }
        },
        "trainer": {"max_epochs": 1},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="NoSuchAugmentation") as err:
        train_from_config(path, tmp_path / "out", progress=False)
    assert "dataset.train_dataset.augmentations" in str(err.value)
    assert str(path.resolve()) in str(err.value) or str(path) in str(err.value)
    assert _leftovers(tmp_path) == []
    assert not list((tmp_path / "out").rglob("*.ckpt"))
