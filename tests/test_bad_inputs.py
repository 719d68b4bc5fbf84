"""Bad inputs through the ``dreem`` CLI and through Snakemake, one table row per case.

Every error case asserts: the exit code (2 for the CLI, nonzero for Snakemake), that the
first error line names the file or key path (and suggests no option the command lacks),
that no traceback is printed (CLI), and that nothing is left under a final output name
(every output present is complete, no temporary is left, the case's outputs are absent).
Warning cases assert that the warning line names the file (or dataset) and the values.

A full disk is a small tmpfs (skipped where mounting is not permitted); a read-only folder
is ``chmod 555``, or for root (who ignores permission bits) a read-only mount.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_workflow import run_smk

# --------------------------------------------------------------------------- helpers


def dreem(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``dreem ARGS`` as a user runs it (the console entry point)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    return subprocess.run(
        [sys.executable, "-c", "from dreem.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def first_error_line(text: str) -> str:
    """The first ``error:`` line (as the CLI and the pipeline's job scripts print them)."""
    for line in text.splitlines():
        if line.startswith("error:"):
            return line
    raise AssertionError(f"no error line in:\n{text[-3000:]}")


def smk_error_line(proc: subprocess.CompletedProcess) -> str:
    """The first line of a Snakemake error: a failed job's ``error:`` line (the default
    profile shows failed logs), else a parse-time WorkflowError's message."""
    lines = (proc.stdout + proc.stderr).splitlines()
    for line in lines:
        if line.strip().startswith("error:"):
            return line.strip()
    for i, line in enumerate(lines):
        if line.startswith("WorkflowError"):
            return next(ln for ln in lines[i + 1 :] if ln.strip())
    raise AssertionError(f"no error found:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@functools.cache
def options_of(command: str) -> frozenset[str]:
    """The ``--options`` that ``dreem COMMAND --help`` lists."""
    return frozenset(re.findall(r"--[a-z][a-z-]+", dreem(*command.split(), "--help").stdout))


def complete_outputs(root: Path) -> list[Path]:
    """Every output file under ``root``, each checked to be complete; no temporary left."""
    import pandas as pd
    import pyarrow.parquet as pq

    if not root.exists():
        return []
    files = []
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if rel.parts[0] in ("logs", ".snakemake", ".dreem"):
            continue
        assert not any(p.startswith(".") for p in rel.parts), f"temporary left: {f}"
        if f.is_dir():
            continue
        if f.suffix == ".parquet":
            pq.read_metadata(f)
        elif f.suffix == ".csv":
            pd.read_csv(f)
        elif f.suffix == ".json":
            json.loads(f.read_text())
        files.append(f)
    return files


def assert_clean(root: Path, absent: tuple[str, ...]) -> None:
    """Nothing half-written under ``root``, and none of the ``absent`` globs exists."""
    complete_outputs(root)
    for pattern in absent:
        found = list(root.glob(pattern)) if root.exists() else []
        assert not found, f"{pattern}: {found}"


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    root: Path
    animals: Path  # one tracked 2-animal clip (.slp + .mp4), 64x64
    cells: Path  # one CTC sequence (01, 01_GT/TRA with man_track.txt), 48x48
    model: Path  # a dreem checkpoint whose model trained on 24-px crops around 'thorax'
    manifest: Path  # `dreem discover animals` output

    def copy(self, what: Path, dest: Path) -> Path:
        shutil.copytree(what, dest)
        return dest


def _write_checkpoint(path: Path, crop_size: int = 24) -> Path:
    """A dreem checkpoint as training writes it (weights + full config), untrained."""
    import torch

    from dreem.config.load import validate_dreem
    from dreem.models.gtr import GlobalTrackingTransformer

    cfg = validate_dreem(
        {
            "model": {
                "d_model": 32,
                "nhead": 1,
                "num_encoder_layers": 1,
                "num_decoder_layers": 1,
                "encoder_cfg": {"model_name": "test_resnet", "in_chans": 3, "pretrained": False},
            },
            "dataset": {
                "train_dataset": {"crop_size": crop_size, "anchors": "thorax", "clip_length": 8}
            },
            "tracker": {"window_size": 4},
        }
    )
    torch.manual_seed(0)
    model = GlobalTrackingTransformer(cfg.model)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": cfg.to_dict(), "epoch": 0}, path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Data:
    from dreem.synth import generate_animals, generate_cells

    root = tmp_path_factory.mktemp("bad inputs")
    generate_animals(root / "animals", "clip_a", seed=0, n_animals=2, n_frames=20, size=(64, 64))
    generate_cells(root / "cells", "01", seed=0, n_cells=3, n_frames=5, size=(48, 48))
    model = _write_checkpoint(root / "model.ckpt")
    manifest = root / "manifest.parquet"
    proc = dreem("discover", root / "animals", "-o", manifest)
    assert proc.returncode == 0, proc.stderr
    return Data(root, root / "animals", root / "cells", model, manifest)


def untracked(data: Data, tmp: Path) -> Path:
    """The animals with every track removed (predictions, no ground-truth identities)."""
    import sleap_io as sio

    d = data.copy(data.animals, tmp / "untracked")
    labels = sio.load_slp(str(d / "clip_a.slp"))
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            inst.track = None
    labels.tracks = []
    labels.save(str(d / "clip_a.slp"))
    return d


def float_masks(data: Data, tmp: Path) -> tuple[Path, Path]:
    """The cells with float32 label masks; returns (folder, first mask file)."""
    import tifffile

    d = data.copy(data.cells, tmp / "float masks")
    masks = sorted((d / "01_GT" / "TRA").glob("*.tif"))
    for p in masks:
        tifffile.imwrite(p, tifffile.imread(p).astype(np.float32))
    return d, masks[0]


def bad_checkpoint(data: Data, tmp: Path, kind: str) -> Path:
    import torch

    path = tmp / f"{kind}.ckpt"
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "code":  # unpickling it would run a command
        torch.save({"state_dict": {}, "hyper_parameters": _RunsCode(tmp / "code-ran")}, path)
    elif kind == "mismatch":  # its config says d_model 64, its weights are 32 wide
        ckpt = torch.load(data.model, weights_only=True)
        ckpt["hyper_parameters"]["model"]["d_model"] = 64
        torch.save(ckpt, path)
    return path


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


# --------------------------------------------------------------------------- the CLI table


@dataclass
class Bad:
    """One bad CLI call: its arguments, what its first error line must name, and the output
    folder that must hold nothing half-written (with globs that must not exist at all)."""

    args: list
    names: list[str]
    out: Path
    absent: tuple[str, ...] = ("*",)
    not_created: list[Path] = field(default_factory=list)


def _config(tmp: Path, text: str, name: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


CLI_CASES: dict[str, Callable[[Data, Path], Bad]] = {}


def cli_case(name: str):
    def register(build: Callable[[Data, Path], Bad]):
        CLI_CASES[name] = build
        return build

    return register


@cli_case("discover -o a .csv manifest")
def _discover_csv(d: Data, t: Path) -> Bad:
    return Bad(["discover", d.animals, "-o", t / "man.csv"], [str(t / "man.csv")], t)


@cli_case("discover -o an existing folder")
def _discover_folder(d: Data, t: Path) -> Bad:
    return Bad(["discover", d.animals, "-o", t], [str(t), "is a folder"], t)


@cli_case("extract given a folder")
def _extract_folder(d: Data, t: Path) -> Bad:
    return Bad(["extract", d.animals, "-o", t / "s"], [str(d.animals), "not a manifest"], t)


@cli_case("extract given an .slp")
def _extract_slp(d: Data, t: Path) -> Bad:
    slp = d.animals / "clip_a.slp"
    return Bad(["extract", slp, "-o", t / "s"], [str(slp), "not a manifest"], t)


@cli_case("extract given a CSV manifest")
def _extract_csv(d: Data, t: Path) -> Bad:
    csv = d.manifest.with_suffix(".csv")
    return Bad(["extract", csv, "-o", t / "s"], [str(csv), "not a manifest"], t)


@cli_case("eval on data without ground-truth tracks")
def _eval_untracked(d: Data, t: Path) -> Bad:
    u = untracked(d, t)
    return Bad(
        ["eval", u, "-m", "baseline", "-o", t / "out"], [str(u), "no ground-truth"], t / "out"
    )


@cli_case("track with a garbage checkpoint")
def _garbage_ckpt(d: Data, t: Path) -> Bad:
    c = bad_checkpoint(d, t, "garbage")
    return Bad(
        ["track", c, d.animals, "-o", t / "out"], [str(c), "not a dreem checkpoint"], t / "out"
    )


@cli_case("track with a checkpoint that pickles code")
def _code_ckpt(d: Data, t: Path) -> Bad:
    c = bad_checkpoint(d, t, "code")
    names = [str(c), "not a dreem checkpoint", "posix.system"]
    return Bad(
        ["track", c, d.animals, "-o", t / "out"], names, t / "out", not_created=[t / "code-ran"]
    )


@cli_case("track with a checkpoint whose config does not fit its weights")
def _mismatch_ckpt(d: Data, t: Path) -> Bad:
    c = bad_checkpoint(d, t, "mismatch")
    return Bad(["track", c, d.animals, "-o", t / "out"], [str(c), "do not fit"], t / "out")


@cli_case("track CTC data with float32 masks")
def _float_masks(d: Data, t: Path) -> Bad:
    folder, first = float_masks(d, t)
    names = [str(first), "integer labels"]
    return Bad(["track", "baseline", folder, "-o", t / "out"], names, t / "out")


@cli_case("track an empty folder (suggests no missing option)")
def _empty_folder(d: Data, t: Path) -> Bad:
    (t / "empty").mkdir()
    return Bad(["track", "baseline", t / "empty", "-o", t / "out"], [str(t / "empty")], t / "out")


CONFIGS = {
    "unknown optimizer": ("optimizer: {name: Adamm}\n", "optimizer.name"),
    "unknown scheduler": ("scheduler: {name: StepLRR}\n", "scheduler.name"),
    "unknown augmentation": (
        "dataset: {train_dataset: {augmentations: {GaussianBlurr: {p: 0.5}}}}\n",
        "dataset.train_dataset.augmentations.GaussianBlurr",
    ),
    "duplicate key": ("model:\n  d_model: 32\n  d_model: 64\n", "model.d_model: duplicate key"),
    "empty file": ("", "empty"),
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text file"),
    "crop_size null": (
        "dataset:\n  train_dataset:\n    crop_size: null\n",
        "dataset.train_dataset.crop_size",
    ),
}


def _config_case(text: str | bytes, key: str) -> Callable[[Data, Path], Bad]:
    def build(d: Data, t: Path) -> Bad:
        path = t / "bad.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return Bad(["config", "validate", path], [str(path), key], t, absent=("*.csv",))

    return build


for _name, (_text, _key) in CONFIGS.items():
    CLI_CASES[f"config validate: {_name}"] = _config_case(_text, _key)


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_input(case: str, data: Data, tmp_path: Path) -> None:
    bad = CLI_CASES[case](data, tmp_path)
    proc = dreem(*bad.args)
    assert proc.returncode == 2, f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    line = first_error_line(proc.stderr)
    print(f"error line [{case}]: {line}")  # shown with pytest -rP
    for name in bad.names:
        assert name in line, (name, line)
    command = "config validate" if bad.args[0] == "config" else str(bad.args[0])
    suggested = set(re.findall(r"--[a-z][a-z-]+", proc.stderr))
    assert suggested <= options_of(command), f"suggests options `{command}` lacks: {suggested}"
    assert_clean(bad.out, bad.absent)
    for p in bad.not_created:
        assert not p.exists(), p


# --------------------------------------------------------------------------- CLI: environment


@pytest.fixture()
def mount(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``mount(name, options)``: a small tmpfs at ``tmp_path/name`` (skip if not permitted)."""
    mounted: list[Path] = []

    def make(name: str, options: str) -> Path:
        where = tmp_path / name
        where.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def read_only_folder(tmp_path: Path, mount) -> Path:
    folder = tmp_path / "read only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root: permission bits do not apply
        folder.chmod(0o755)
        folder.rmdir()
        folder = mount("read only", "ro,size=64k")
    return folder


@pytest.mark.parametrize("command", ["track", "extract", "discover"])
def test_cli_read_only_output_folder(command: str, data: Data, tmp_path: Path, mount) -> None:
    ro = read_only_folder(tmp_path, mount)
    target = ro / "out"
    args = {
        "track": ["track", "baseline", data.animals, "-o", target],
        "extract": ["extract", data.manifest, "-o", target],
        "discover": ["discover", data.animals, "-o", target / "m.parquet"],
    }[command]
    proc = dreem(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    line = first_error_line(proc.stderr)
    assert str(target) in line and "cannot write" in line, line
    assert not target.exists()


def test_cli_disk_full_during_extraction(data: Data, tmp_path: Path, mount) -> None:
    """The shard does not fit: an error naming it, no partial shard under its name (before:
    the footer-less Parquet was renamed into place and tracking failed on it)."""
    disk = mount("disk", "size=32k")
    proc = dreem("extract", data.manifest, "-o", disk, "--crop-size", "60")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    line = first_error_line(proc.stderr)
    assert f"cannot write {disk / 'clip_a.parquet'}" in line and "No space left" in line, line
    assert sorted(p.name for p in disk.iterdir()) == []


# --------------------------------------------------------------------------- CLI: warnings


def warning_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("warning:")]


def test_cli_man_track_labels_missing_and_extra_are_warned(data: Data, tmp_path: Path) -> None:
    d = data.copy(data.cells, tmp_path / "cells")
    man = d / "01_GT" / "TRA" / "man_track.txt"
    lines = man.read_text().splitlines()
    man.write_text("\n".join([*lines[1:], "99 0 2 0"]) + "\n")  # label 1 dropped, 99 added
    proc = dreem("eval", d, "-m", "baseline", "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    warned = [w for w in warning_lines(proc.stderr) if "label(s)" in w]
    assert any(f"{man}: label(s) 1 appear in the masks but not in" in w for w in warned), warned
    assert any(f"{man}: label(s) 99 are listed but appear in no mask" in w for w in warned)
    assert len(warned) == 2, "each problem once per run"


def test_cli_crop_larger_than_frame_is_warned(data: Data, tmp_path: Path) -> None:
    proc = dreem("extract", data.manifest, "-o", tmp_path / "s", "--crop-size", "300")
    assert proc.returncode == 0, proc.stderr
    (line,) = warning_lines(proc.stderr)
    assert str(data.animals / "clip_a.mp4") in line and "crop_size 300" in line
    assert "64x64 frame" in line


def _shard_crop(shard: Path) -> tuple[int, object]:
    from dreem.io.shards import read_meta

    params = read_meta(shard).params
    return params["crop_size"], params["anchors"]


def test_cli_track_directory_uses_the_checkpoint_crops(data: Data, tmp_path: Path) -> None:
    """`dreem track CKPT DIR` extracts the crops the model trained on (24 px, thorax), not
    the defaults (before: 128 px around the centroid, silently)."""
    proc = dreem("track", data.model, data.animals, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert warning_lines(proc.stderr) == []
    (shard,) = (tmp_path / "out" / "datasets" / "animals" / "crops").glob("*/clip_a.parquet")
    assert shard.parent.name.startswith("24px-")
    assert _shard_crop(shard) == (24, "thorax")
    assert list((tmp_path / "out" / "tracks").glob("*/animals/clip_a.slp"))


def test_cli_track_shard_with_other_crops_is_warned(data: Data, tmp_path: Path) -> None:
    """A model trained on 24-px crops applied to 40-px crops: a warning naming the shard,
    the model and both values."""
    proc = dreem("extract", data.manifest, "-o", tmp_path / "s", "--crop-size", "40")
    assert proc.returncode == 0, proc.stderr
    shard = tmp_path / "s" / "clip_a.parquet"
    proc = dreem("track", data.model, shard, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    (line,) = warning_lines(proc.stderr)
    assert line.startswith(f"warning: {shard}: its crops differ") and str(data.model) in line
    assert "crop_size 40 (trained: 24)" in line and "anchors 'centroid' (trained: 'thorax')" in line


def test_explicit_dataset_crops_differing_from_the_model_are_noted(
    data: Data, tmp_path: Path, caplog
) -> None:
    """Tracking a directory with explicit crop keys other than the model's: the plan's note
    (logged as a warning) names the dataset and both values."""
    from dreem.stages import track_data

    with caplog.at_level(logging.WARNING, logger="dreem"):
        track_data(str(data.model), data.animals, tmp_path / "o", dataset_keys={"crop_size": 40})
    notes = [r.getMessage() for r in caplog.records if r.name.startswith("dreem.stages")]
    assert any(
        n.startswith("datasets.animals:") and "crop_size=40 (trained: 24)" in n for n in notes
    ), notes
    (shard,) = (tmp_path / "o" / "datasets" / "animals" / "crops").glob("*/clip_a.parquet")
    assert _shard_crop(shard) == (40, "thorax")


def test_cli_ctc_folder_with_a_16bit_stack_is_accepted(data: Data, tmp_path: Path) -> None:
    """A CTC X/ folder holding one 16-bit multi-page TIFF (as documented) tracks like the
    per-frame layout (before: '1 raw frames' vs 5 masks)."""
    import pandas as pd
    import tifffile

    d = data.copy(data.cells, tmp_path / "stack")
    frames = sorted((d / "01").glob("*.tif"))
    stack = np.stack([tifffile.imread(f) for f in frames]).astype(np.uint16)
    for f in frames:
        f.unlink()
    tifffile.imwrite(d / "01" / "stack.tif", stack)
    proc = dreem("track", "baseline", d, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(tmp_path / "out" / "tracks" / "baseline" / "stack" / "01.parquet")
    assert sorted(set(table.frame_idx)) == list(range(len(frames)))
    res = tmp_path / "out" / "tracks" / "baseline" / "stack" / "01_RES"
    assert len(list(res.glob("mask*.tif"))) == len(frames)


@pytest.mark.slow
def test_cli_train_with_truncated_last_ckpt_recovers(data: Data, tmp_path: Path) -> None:
    """An interrupted run whose checkpoints/last.ckpt was cut short: the rerun warns and
    resumes from the newest readable checkpoint (before: every rerun failed)."""
    import torch

    cfg = tmp_path / "train.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "seed": 0,
                "model": {
                    "d_model": 32,
                    "nhead": 1,
                    "num_encoder_layers": 1,
                    "num_decoder_layers": 1,
                    "encoder_cfg": {"model_name": "test_resnet"},
                },
                "dataset": {
                    "train_dataset": {
                        "dir": {
                            "path": str(data.animals),
                            "labels_suffix": ".slp",
                            "vid_suffix": ".mp4",
                        },
                        "crop_size": 24,
                        "anchors": "thorax",
                        "clip_length": 8,
                    }
                },
                "logging": {"logger_type": None},
                "trainer": {
                    "max_epochs": 2,
                    "enable_progress_bar": False,
                    "enable_model_summary": False,
                },
            }
        )
    )
    out = tmp_path / "run"
    assert dreem("train", cfg, "-o", out, "--name", "m").returncode == 0
    ckpts = out / "models" / "m" / "train" / "checkpoints"
    (ckpts / "FINISHED").unlink()  # as if killed ...
    last = ckpts / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # ... while last.ckpt was being written
    proc = dreem("train", cfg, "-o", out, "--name", "m")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [w for w in warning_lines(proc.stderr) if "cannot be read" in w]
    assert str(last) in line
    final = torch.load(out / "models" / "m" / "train" / "last.ckpt", weights_only=True)
    assert final["epoch"] == 1


# --------------------------------------------------------------------------- Snakemake


@dataclass
class SmkBad:
    """One bad pipeline: its config file, whether a dry run must already fail, what the
    first error line must name, and outputs that must not exist."""

    configfile: Path
    dry_run: bool
    names: list[str]
    absent: tuple[str, ...] = ("tracks", "metrics", "summary")
    snakemake_reads_it: bool = False  # Snakemake parses the file before the workflow runs


def _pipeline(tmp: Path, dataset: dict, model: dict, section: str = "evaluate", **top) -> Path:
    cfg = {
        "output_dir": "out",
        "datasets": {"d": dataset},
        "models": {"m": model},
        section: {
            "datasets": ["d"],
            "models": ["m"],
            **({"metrics": ["mota", "idf1"]} if section == "evaluate" else {}),
        },
        **top,
    }
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _dir(path: Path, labels: str = ".slp", video: str = ".mp4", **keys) -> dict:
    return {"dir": {"path": str(path), "labels_suffix": labels, "vid_suffix": video}, **keys}


def _trained(tmp: Path, data: Data, dreem_text: str, **over) -> Path:
    dreem_cfg = _config(tmp, dreem_text, "model.yaml")
    model = {"config": str(dreem_cfg), "train": ["d"]}
    return _pipeline(tmp, _dir(data.animals, crop_size=24), model, **over)


SMK_CASES: dict[str, Callable[[Data, Path], SmkBad]] = {
    "unknown optimizer in a model's config": lambda d, t: SmkBad(
        _trained(t, d, "optimizer: {name: Adamm}\n"), True, ["models.m", "optimizer.name"]
    ),
    "unknown scheduler in a model's config": lambda d, t: SmkBad(
        _trained(t, d, "scheduler: {name: StepLRR}\n"), True, ["models.m", "scheduler.name"]
    ),
    "unknown augmentation in a model's config": lambda d, t: SmkBad(
        _trained(t, d, "dataset: {train_dataset: {augmentations: {GaussianBlurr: {p: 0.5}}}}\n"),
        True,
        ["models.m", "dataset.train_dataset.augmentations.GaussianBlurr"],
    ),
    "duplicate key in the pipeline config": lambda d, t: (
        lambda p: SmkBad(
            _config(t, "output_dir: out\n" + p.read_text(), "dup.yaml"),
            True,
            [str(t / "dup.yaml"), "output_dir: duplicate key"],
        )
    )(_pipeline(t, _dir(d.animals), {"baseline": "centroid"})),
    "crop_size null in a dataset": lambda d, t: SmkBad(
        _pipeline(t, _dir(d.animals, crop_size=None), {"baseline": "centroid"}),
        True,
        ["datasets.d.crop_size"],
    ),
    "garbage checkpoint as a model": lambda d, t: (
        lambda c: SmkBad(
            _pipeline(t, _dir(d.animals), {"checkpoint": str(c)}), True, [str(c), "not a dreem"]
        )
    )(bad_checkpoint(d, t, "garbage")),
    "checkpoint whose config does not fit its weights": lambda d, t: (
        lambda c: SmkBad(
            _pipeline(t, _dir(d.animals), {"checkpoint": str(c)}), False, [str(c), "do not fit"]
        )
    )(bad_checkpoint(d, t, "mismatch")),
    "CTC data with float32 masks": lambda d, t: (
        lambda fm: SmkBad(
            _pipeline(t, _dir(fm[0], ".tif", ".tif", crop_size=16), {"baseline": "centroid"}),
            False,
            [str(fm[1]), "integer labels"],
            ("datasets/d/manifest.parquet", "tracks", "metrics", "summary"),
        )
    )(float_masks(d, t)),
    "evaluation of data without ground-truth tracks": lambda d, t: SmkBad(
        _pipeline(t, _dir(untracked(d, t), crop_size=24), {"baseline": "centroid"}),
        False,
        ["datasets.d", "untracked", "no ground-truth tracks", "evaluate.ground_truth"],
        ("metrics", "summary"),
    ),
    "empty config file": lambda d, t: SmkBad(
        _config(t, "", "empty.yaml"), True, [], snakemake_reads_it=True
    ),
    "binary config file": lambda d, t: SmkBad(
        Path(shutil.copyfile(d.animals / "clip_a.mp4", t / "binary.yaml")),
        True,
        [],
        snakemake_reads_it=True,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SMK_CASES))
def test_snakemake_bad_input(case: str, data: Data, tmp_path: Path) -> None:
    bad = SMK_CASES[case](data, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    proc = run_smk(work, bad.configfile, *(["-n"] if bad.dry_run else []), check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    out = work / "out"
    if bad.snakemake_reads_it:
        # Snakemake reads --configfile itself before the workflow starts; its own message
        # (or traceback) cannot name the file. Nothing is written.
        assert not out.exists()
        return
    line = smk_error_line(proc)
    print(f"error line [{case}]: {line}")  # shown with pytest -rP
    for name in bad.names:
        assert name in line, (name, line)
    assert_clean(out, bad.absent)


@pytest.mark.slow
def test_snakemake_read_only_and_full_output_folders(data: Data, tmp_path: Path, mount) -> None:
    cases = {
        "read only": (read_only_folder(tmp_path, mount), "Failed to create output directory"),
        "full": (mount("disk", "size=48k"), "No space left"),
    }
    for name, (folder, message) in cases.items():
        out = folder / "out"
        cfg = _pipeline(tmp_path, _dir(data.animals, crop_size=60), {"baseline": "centroid"})
        cfg.write_text(cfg.read_text().replace("output_dir: out", f"output_dir: {out}"))
        work = tmp_path / f"work {name}"
        work.mkdir()
        proc = run_smk(work, cfg, check=False)
        assert proc.returncode != 0, name
        line = smk_error_line(proc)
        assert message in line and str(out) in line, (name, line)
        assert_clean(out, ("datasets/d/crops/*/*.parquet", "tracks", "summary"))


@pytest.mark.slow
def test_snakemake_notes_and_warnings(data: Data, tmp_path: Path) -> None:
    """A dataset's explicit crops other than the checkpoint's: the dry run's note names the
    dataset and both values; ground-truth problems are warned about in the job log."""
    cfg = _pipeline(tmp_path, _dir(data.animals, crop_size=40), {"checkpoint": str(data.model)})
    proc = run_smk(tmp_path, cfg, "-n")
    text = proc.stdout + proc.stderr
    assert re.search(r"datasets\.d: .*crop_size=40 \(trained: 24\)", text), text[-3000:]

    cells = data.copy(data.cells, tmp_path / "cells")
    man = cells / "01_GT" / "TRA" / "man_track.txt"
    man.write_text("\n".join(man.read_text().splitlines()[1:]) + "\n")
    cfg = _pipeline(tmp_path, _dir(cells, ".tif", ".tif", crop_size=16), {"baseline": "centroid"})
    run_smk(tmp_path, cfg)
    log = (tmp_path / "out" / "logs" / "discover" / "d.log").read_text()
    assert f"{man}: label(s) 1 appear in the masks but not in man_track.txt" in log
