"""The ``dreem`` console script, run as a user would: start-up, config checks, every stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dreem import __version__

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "lightning", "sleap_io", "cv2", "matplotlib", "timm", "pandas", "scipy")
N_FRAMES = 30


def _dreem_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("dreem")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from dreem.cli import main; main()"]


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``dreem ARGS``; capture text output."""
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run(
        [*_dreem_cmd(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def animals(tmp_path_factory) -> Path:
    """A folder with two tiny labelled 2-animal clips (``.slp`` + ``.mp4``)."""
    from dreem.synth import generate_animals

    d = tmp_path_factory.mktemp("animals")
    for i, name in enumerate(("clip_a", "clip_b")):
        generate_animals(d, name, seed=i, n_animals=2, n_frames=N_FRAMES, size=(128, 128))
    return d


TRAIN_CFG = """\
seed: 0
model:
  d_model: 32
  nhead: 1
  encoder_cfg: {{model_name: test_resnet, backend: timm, in_chans: 3, pretrained: false}}
dataset:
  train_dataset:
    dir: {{path: {data}, labels_suffix: .slp, vid_suffix: .mp4}}
    crop_size: 24
    anchors: thorax
    clip_length: 8
tracker: {{window_size: 4}}
logging: {{logger_type: null}}
trainer: {{max_epochs: 1, enable_progress_bar: false, enable_model_summary: false}}
"""


@pytest.fixture(scope="module")
def train_cfg(animals: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "train.yaml"
    path.write_text(TRAIN_CFG.format(data=animals))
    return path


@pytest.fixture(scope="module")
def checkpoint(train_cfg: Path, tmp_path_factory) -> Path:
    """One epoch of training through ``dreem train`` (no validation set)."""
    out = tmp_path_factory.mktemp("model")
    proc = _ok(run("train", train_cfg, "-o", out, "--no-mlflow"))
    result = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])
    assert result["epochs"] == 1
    ckpt = out / "models" / "train" / "best.ckpt"  # named after the config file
    assert Path(result["checkpoint"]) == ckpt and ckpt.is_file()
    assert (out / "best.ckpt").resolve() == ckpt.resolve()  # out/best.ckpt: the model
    assert f"model: {out / 'best.ckpt'} -> {ckpt}" in proc.stdout
    assert not (out / "mlflow.db").exists()
    return ckpt


# --------------------------------------------------------------------------- start-up


def test_help_lists_every_command():
    proc = _ok(run("--help"))
    for cmd in ("synth", "discover", "extract", "train", "track", "eval", "render", "config"):
        assert cmd in proc.stdout, cmd
    assert _ok(run("--version")).stdout.startswith("dreem ")
    assert "validate" in _ok(run("config", "--help")).stdout


def test_cli_import_is_light():
    """Importing the CLI (what ``dreem --help`` does) must not pull in the heavy stack."""
    code = (
        "import sys, time; t = time.perf_counter(); import dreem.cli; "
        "print(time.perf_counter() - t); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    seconds, loaded = proc.stdout.split("\n")[:2]
    assert loaded == "", f"dreem.cli imported {loaded}"
    assert float(seconds) < 1.5  # TARGETS: start-up < 1.5 s (typically ~0.15 s here)


def test_cli_exits_without_the_interpreter_teardown():
    """A finished command, successful or stopped by a user error, exits at once
    (``exit_now``): its output and the exit handlers' arrive and its status is kept, but
    the interpreter's teardown (0.2 s and more with torch and Lightning loaded) is skipped:
    the audit event of its last phase is never raised."""
    code = (
        "import atexit, os, sys\n"
        "def audit(event, args, write=os.write):  # sys.stdout may be gone by then\n"
        "    if event == 'cpython.PyInterpreterState_Clear':\n"
        "        write(1, b'teardown ran')\n"
        "sys.addaudithook(audit)\n"
        "atexit.register(print, 'handler ran')\n"
        "from dreem.cli import main\n"
        "sys.argv = ['dreem', *sys.argv[1:]]\n"
        "main()\n"
        "print('not reached')\n"
    )
    for args, status, out in (
        (["--version"], 0, f"dreem {__version__}\nhandler ran\n"),
        (["track", "/no/such.ckpt"], 2, "handler ran\n"),
    ):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )
        assert (proc.returncode, proc.stdout) == (status, out), proc.stderr


def test_help_starts_fast():
    best = min(_time_help() for _ in range(2))
    assert best < 1.5, f"dreem --help took {best:.2f} s"


def _time_help() -> float:
    t0 = time.perf_counter()
    _ok(run("--help"))
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- config


def test_config_validate_good(train_cfg: Path):
    proc = _ok(run("config", "validate", train_cfg))
    assert "valid DREEM config" in proc.stdout


def test_config_validate_bad_names_every_key_path(train_cfg: Path, tmp_path: Path):
    cfg = yaml.safe_load(train_cfg.read_text())
    cfg["model"]["d_model"] = "wide"
    cfg["model"]["nhed"] = cfg["model"].pop("nhead")
    cfg["tracker"]["iou"] = "multt"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = run("config", "validate", bad)
    assert proc.returncode == 2, proc.stderr
    assert str(bad) in proc.stderr
    for needle in ("model.d_model", "model.nhed", "'nhead'", "tracker.iou"):
        assert needle in proc.stderr, (needle, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_config_validate_override_and_broken_yaml(train_cfg: Path, tmp_path: Path):
    proc = run("config", "validate", train_cfg, "--set", "optimizer.lr=fast")
    assert proc.returncode == 2 and "optimizer.lr" in proc.stderr, proc.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: {d_model: [1, 2\n")
    proc = run("config", "validate", broken)
    assert proc.returncode == 2 and str(broken) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_show_defaults_and_overrides():
    proc = _ok(run("config", "show", "--set", "model.d_model=48"))
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["model"]["d_model"] == 48
    assert {"model", "loss", "optimizer", "tracker", "dataset", "trainer"} <= set(cfg)


# --------------------------------------------------------------------------- stages


def test_synth_writes_demo_layout(tmp_path: Path):
    out = tmp_path / "demo"
    proc = _ok(run("synth", out, "--seed", "1"))
    info = json.loads(proc.stdout)
    assert info["seed"] == 1
    for split in ("train", "val", "test"):
        slps = sorted((out / "animals" / split).glob("*.slp"))
        assert slps, split
        assert all(p.with_suffix(".mp4").is_file() for p in slps)
        assert list((out / "cells" / split).glob("*_GT")), split


def test_eval_baseline_writes_summary(animals: Path, tmp_path: Path):
    import pandas as pd

    out = tmp_path / "eval"
    proc = _ok(run("eval", animals, "-m", "baseline", "-o", out))
    assert "idf1" in proc.stdout
    df = pd.read_csv(out / "summary" / "metrics.csv")
    assert {"model", "dataset", "video_id", "metric", "value"} <= set(df.columns)
    idf1 = df[df.metric == "idf1"].set_index("video_id")["value"]
    assert {"clip_a", "clip_b"} <= set(idf1.index)
    assert idf1.between(0, 1).all()
    assert (df.model == "baseline").all()
    for vid in ("clip_a", "clip_b"):
        assert (out / "metrics" / "baseline" / animals.name / f"{vid}.csv").is_file()
    assert (out / "summary" / "report.html").is_file()
    assert (out / "summary" / "metrics.png").stat().st_size > 0


def test_track_baseline_writes_slp_per_video(animals: Path, tmp_path: Path):
    import pandas as pd
    import sleap_io as sio

    out = tmp_path / "track"
    proc = _ok(run("track", "baseline", animals, "-o", out))
    assert "2 videos tracked" in proc.stdout
    track_dir = out / "tracks" / "baseline" / animals.name
    for vid in ("clip_a", "clip_b"):
        labels = sio.load_slp(str(track_dir / f"{vid}.slp"))
        assert len(labels.labeled_frames) == N_FRAMES
        insts = [inst for lf in labels.labeled_frames for inst in lf.instances]
        assert len(insts) == 2 * N_FRAMES
        assert all(inst.track is not None for inst in insts)
        assert len({inst.track.name for inst in insts}) >= 2
        table = pd.read_parquet(track_dir / f"{vid}.parquet")
        assert len(table) == 2 * N_FRAMES and (table.track_id >= 0).all()


def test_train_then_track_and_eval_with_checkpoint(checkpoint: Path, animals: Path, tmp_path: Path):
    import pandas as pd

    # One run covers `track` with a checkpoint too: eval tracks first (same code path).
    out = tmp_path / "out"
    args = ("-m", checkpoint, "-m", "baseline", "-o", out, "--set", "tracker.window_size=2")
    _ok(run("eval", animals, *args))
    for vid in ("clip_a", "clip_b"):
        assert (out / "tracks" / "train" / animals.name / f"{vid}.slp").is_file()
    df = pd.read_csv(out / "summary" / "metrics.csv")
    assert set(df.model) == {"train", "baseline"}  # named after the model's folder
    assert df[(df.metric == "idf1")].value.between(0, 1).all()


def test_bad_inputs_exit_2_naming_the_path(tmp_path: Path):
    missing = tmp_path / "nowhere"
    proc = run("track", "baseline", missing, "-o", tmp_path / "o")
    assert proc.returncode == 2 and str(missing) in proc.stderr, proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run("eval", empty, "-m", "baseline", "-o", tmp_path / "o")
    assert proc.returncode == 2 and str(empty) in proc.stderr, proc.stderr
    assert "no labels" in proc.stderr
    proc = run("track", tmp_path / "missing.ckpt", missing, "-o", tmp_path / "o")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


def test_eval_with_ground_truth_dir_is_detection_level(animals: Path, tmp_path: Path):
    import shutil

    import pandas as pd
    import sleap_io as sio

    pred = tmp_path / "pred"
    shutil.copytree(animals, pred)
    labels = sio.load_slp(str(pred / "clip_a.slp"))
    lf = labels.labeled_frames[0]
    lf.instances = lf.instances[1:]  # a detector missed one animal in the first frame
    labels.save(str(pred / "clip_a.slp"))
    out = tmp_path / "eval"
    _ok(run("eval", pred, "-m", "baseline", "--gt", animals, "--threshold", "2", "-o", out))
    df = pd.read_csv(out / "summary" / "metrics.csv")
    rec = df[df.metric == "recall"].set_index("video_id")["value"]
    prec = df[df.metric == "precision"].set_index("video_id")["value"]
    assert rec["clip_a"] < 1.0 and rec["clip_b"] == 1.0
    assert prec["clip_a"] == 1.0


# --------------------------------------------------------------------------- reference shapes


def test_reference_train_shape_flags_and_mlflow(animals: Path, train_cfg: Path, tmp_path: Path):
    """`dreem train TRAIN_DIR --val-dir DIR --crop-size N` (the reference CLI): flags become
    config keys, out/best.ckpt is the model, and the run is recorded in out/mlflow.db."""
    from mlflow.tracking import MlflowClient

    from dreem.models.checkpoint import read_checkpoint_config
    from dreem.synth import generate_animals

    val = tmp_path / "val"
    generate_animals(val, "clip_v", seed=5, n_animals=2, n_frames=12, size=(128, 128))
    out = tmp_path / "ref"
    args = ("--val-dir", val, "--crop-size", "20", "-a", "thorax", "-e", "1", "-cl", "6")
    proc = _ok(run("train", animals, *args, "-c", train_cfg, "--run-name", "ref", "-o", out, "-q"))
    assert f"model: {out / 'best.ckpt'}" in proc.stdout
    cfg = read_checkpoint_config(out / "best.ckpt")
    assert cfg.trainer.max_epochs == 1 and cfg.dataset.train_dataset.crop_size == 20
    assert cfg.dataset.train_dataset.clip_length == 6
    assert cfg.dataset.val_dataset is None or cfg.dataset.val_dataset.crop_size == 20
    client = MlflowClient(tracking_uri=f"sqlite:///{out.resolve()}/mlflow.db")
    exp = client.get_experiment_by_name("dreem-pipeline")
    (run_,) = client.search_runs([exp.experiment_id])
    assert run_.info.run_name == "ref" and run_.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run_.info.run_id, "val_loss")] == [0]


def test_reference_track_and_eval_shapes(checkpoint: Path, animals: Path, tmp_path: Path):
    import pandas as pd

    out = tmp_path / "t"
    flags = ("--crop-size", "24", "-mx", "2", "--max-gap", "3", "--device", "cpu", "-q")
    _ok(run("track", animals, "--checkpoint", checkpoint, "-o", out, *flags))
    for vid in ("clip_a", "clip_b"):
        table = pd.read_parquet(out / "tracks" / "train" / animals.name / f"{vid}.parquet")
        assert table.track_id.nunique() <= 2  # --max-tracks
    # explicit files instead of a directory
    slp, mp4 = animals / "clip_a.slp", animals / "clip_a.mp4"
    _ok(run("track", "-slp", slp, "-vid", mp4, "-ckpt", "baseline", "-o", tmp_path / "f", "-q"))
    assert (tmp_path / "f" / "tracks" / "baseline" / animals.name / "clip_a.slp").is_file()
    proc = _ok(run("eval", animals, "-ckpt", checkpoint, "-m", "baseline", "-o", tmp_path / "e"))
    assert "report:" in proc.stdout
    df = pd.read_csv(tmp_path / "e" / "summary" / "metrics.csv")
    assert set(df.model) == {"train", "baseline"}


def test_cli_explains_missing_data(tmp_path: Path):
    proc = run("train", REPO / "config" / "dreem_train.yaml", "-o", tmp_path / "m")
    assert proc.returncode == 2 and "dreem train TRAIN_DIR --val-dir VAL_DIR" in proc.stderr
    assert "dataset.train_dataset.dir.path" in proc.stderr
    proc = run("track", tmp_path, "-o", tmp_path / "o")
    assert proc.returncode == 2 and "no model" in proc.stderr


# The README's "Every stage without Snakemake" commands, in order (its --gt line is
# test_eval_with_ground_truth_dir_is_detection_level, on placeholder paths there).
README_CLI = [
    "synth demo_data",
    "train demo_data/animals/train --val-dir demo_data/animals/val -c config/dreem_train.yaml"
    " -e 2 -o models/run1",
    "track models/run1/best.ckpt demo_data/animals/test -o out/",
    "track demo_data/animals/test --checkpoint models/run1/best.ckpt -o out/ --max-tracks 4"
    " --device cpu",
    "eval demo_data/animals/test -m run1=models/run1/best.ckpt -m baseline -o out/",
    "render out/tracks/run1/test/test_00.parquet demo_data/animals/test/test_00.mp4"
    " -o clip.tracked.mp4",
    "config validate config/config.yaml",
    "config show",
]
SHORT = ["--set", "trainer.limit_train_batches=2", "--set", "trainer.limit_val_batches=1"]


@pytest.mark.slow
def test_readme_cli_commands(tmp_path: Path):
    """Each README `dreem` command as written, in a fresh folder with the repo's config/
    (training gets batch limits appended to keep the test short)."""
    import shutil

    import pandas as pd

    shutil.copytree(REPO / "config", tmp_path / "config")
    for line in README_CLI:
        extra = SHORT if line.startswith("train ") else []
        proc = subprocess.run(
            [*_dreem_cmd(), *line.split(), *extra],
            capture_output=True,
            text=True,
            timeout=1800,
            cwd=tmp_path,
            env={**os.environ, "OMP_NUM_THREADS": "2"},
        )
        assert proc.returncode == 0, f"dreem {line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert (tmp_path / "models" / "run1" / "best.ckpt").is_file()
    summary = pd.read_csv(tmp_path / "out" / "summary" / "metrics.csv")
    assert set(summary.model) == {"run1", "baseline"}
    assert (tmp_path / "clip.tracked.mp4").stat().st_size > 0


def test_eval_refuses_untracked_predictions(tmp_path: Path):
    """Evaluation needs ground-truth tracks: a clear error, not NaN metrics."""
    from test_track_only import make_predictions

    make_predictions(tmp_path / "new", 1)
    proc = run("eval", tmp_path / "new", "-m", "baseline", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "no ground-truth tracks in clip0" in proc.stderr
    assert not (tmp_path / "o" / "summary").exists()
