"""End-to-end tests of the Snakemake workflow on a tiny synthetic config.

One real run (session-scoped, ~1 min on 2 cores) is shared by the output checks, the rerun
matrix (dry-runs after config edits) and tests/test_slurm.py (which compares its metrics).
Paths contain spaces on purpose.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
METRICS = ["mota", "idf1", "num_switches"]

TINY_POOL = {"n_clips": 1, "n_animals": [2, 2], "n_occluders": [0, 0], "gap_rate": [0.0, 0.0]}
TINY_DREEM = {
    "model": {"d_model": 32, "nhead": 1, "num_encoder_layers": 1, "num_decoder_layers": 1},
    "dataset": {"train_dataset": {"clip_length": 4}, "val_dataset": {"clip_length": 4}},
    "optimizer": {"lr": 1.0e-4},
    "trainer": {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1},
    "tracker": {"window_size": 4},
}


def tiny_config(root: Path, demo_dir: str = "demo data", out: str = "out dir") -> dict:
    """Pipeline config: tiny demo (2 animals, 8-10 frames, 64x64; 3 cells), GTR + baseline."""

    def animals(split: str) -> dict:
        return {
            "dir": {
                "path": f"{demo_dir}/animals/{split}",
                "labels_suffix": ".slp",
                "vid_suffix": ".mp4",
            },
            "crop_size": 32,
            "anchors": "thorax",
        }

    return {
        "seed": 0,
        "output_dir": out,
        "demo": {
            "enabled": True,
            "out_dir": demo_dir,
            "animals": {  # an identity benchmark in miniature (dreem.synth.demo)
                "clip": {"size": [64, 64], "n_frames": 8, "body_length": 12.0},
                "test": [{"name": "test_00", "n_animals": 2}],
                "train": {**TINY_POOL, "n_frames": [10, 10], "size": [64, 64]},
                "val": {**TINY_POOL, "n_frames": [8, 8]},
            },
            "cells": {
                "n_cells": 3,
                "size": [48, 48],
                "n_frames": 5,
                "n_videos": {"train": 0, "val": 0, "test": 1},
            },
        },
        "datasets": {
            "a_train": animals("train"),
            "a_val": animals("val"),
            "a_test": animals("test"),
            "c_test": {
                "dir": {
                    "path": f"{demo_dir}/cells/test",
                    "labels_suffix": ".tif",
                    "vid_suffix": ".tif",
                },
                "crop_size": 32,
            },
        },
        "models": {
            "gtr": {
                "config": str(root / "dreem tiny.yaml"),
                "train": ["a_train"],
                "val": ["a_val"],
            },
            "baseline": {"baseline": "centroid"},
        },
        "evaluate": {
            "datasets": ["a_test", "c_test"],
            "models": ["gtr", "baseline"],
            "metrics": list(METRICS),
            "render": True,
        },
    }


def write_config(root: Path, name: str, cfg: dict, dreem: dict | None = None) -> Path:
    """Write a pipeline config (and, if given, its DREEM config next to it)."""
    if dreem is not None:
        dreem_path = root / f"{name} dreem.yaml"
        dreem_path.write_text(yaml.safe_dump(dreem))
        cfg = copy.deepcopy(cfg)
        cfg["models"]["gtr"]["config"] = str(dreem_path)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def smk_cmd(workdir: Path, configfile: Path | None, *args: str) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--cores",
        "2",
    ]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    return cmd + list(args)


def smk_env() -> dict:
    return {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "PYTHONUNBUFFERED": "1"}


def run_smk(
    workdir: Path, configfile: Path | None, *args: str, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        smk_cmd(workdir, configfile, *args),
        capture_output=True,
        text=True,
        env=smk_env(),
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def planned(workdir: Path, configfile: Path, *args: str) -> dict[str, int]:
    """Jobs a dry-run would execute: ``{rule: count}`` ({} when nothing is to be done)."""
    proc = run_smk(workdir, configfile, "-n", *args)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1]
    jobs = {}
    for line in table.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


def planned_outputs(workdir: Path, configfile: Path) -> set[Path]:
    """Output files of the jobs a dry-run would execute."""
    proc = run_smk(workdir, configfile, "-n")
    outs = set()
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"\s+output: (.*)$", line)
        if m:
            outs.update(workdir / p for p in m.group(1).split(", "))
    return outs


_TINY: dict[str, Path] = {}


def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the tiny workflow once per test session; return its working directory."""
    if "root" not in _TINY:
        root = tmp_path_factory.mktemp("wf run")
        (root / "dreem tiny.yaml").write_text(yaml.safe_dump(TINY_DREEM))
        cfg = write_config(root, "config", tiny_config(root))
        t0 = time.monotonic()
        run_smk(root, cfg)
        (root / "elapsed.txt").write_text(f"{time.monotonic() - t0:.1f}\n")
        _TINY["root"] = root
    return _TINY["root"]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run(tmp_path_factory)


def out(root: Path, *parts: str) -> Path:
    return root / "out dir" / Path(*parts)


# --------------------------------------------------------------------------- static checks


def test_schema_file_matches_library() -> None:
    from dreem.config.pipeline import pipeline_json_schema

    committed = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert committed == pipeline_json_schema(), (
        "workflow/schemas/config.schema.yaml is stale: run "
        ".venv/bin/python workflow/schemas/generate.py"
    )


def test_default_config_is_valid() -> None:
    from dreem.config.pipeline import load_pipeline_config

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    old = Path.cwd()
    os.chdir(REPO)
    try:
        loaded = load_pipeline_config(cfg)
    finally:
        os.chdir(old)
    assert loaded.demo.enabled is True
    assert set(loaded.evaluate.models) == {"gtr", "baseline", "motion"}
    assert {"animals_test", "cells_test"} <= set(loaded.evaluate.datasets)


def test_conda_env_parses() -> None:
    env = yaml.safe_load((REPO / "envs/dreem.yaml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "--editable ${DREEM_PIPELINE_ROOT}[workflow]" in pip
    common = (REPO / "workflow/rules/common.smk").read_text()
    assert 'os.environ.setdefault("DREEM_PIPELINE_ROOT"' in common


def test_profiles() -> None:
    local = yaml.safe_load((REPO / "profiles/default/profile.yaml").read_text())
    assert local["rerun-incomplete"] is True
    slurm = yaml.safe_load((REPO / "profiles/slurm/profile.yaml").read_text())
    # the default profile is auto-loaded beside `--profile profiles/slurm` and wins on
    # conflicts, so it sets nothing the SLURM profile sets except shared flags and the
    # threads cap (documented: use --workflow-profile for SLURM)
    shared = {"rerun-incomplete", "printshellcmds", "cores"}
    assert not (set(local) & set(slurm)) - shared
    assert slurm["executor"] == "slurm" and slurm["retries"] >= 1
    # per-rule resources live in the rules: a command-line --set-resources (which replaces
    # a profile's block) must not drop them (test_readme_slurm_dry_run)
    assert "set-resources" not in slurm
    text = (REPO / "profiles/slurm/profile.yaml").read_text()
    assert "slurm_partition" not in text.split("executor:")[1]  # left to the user
    test = yaml.safe_load((REPO / "profiles/slurm-test/profile.yaml").read_text())
    assert test["slurm-status-command"] == "squeue"
    # memory grows with the attempt number on retries
    rules = "".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    assert rules.count("mem_mb=lambda wc, attempt:") >= 7


def test_fresh_default_config_dry_runs(tmp_path: Path) -> None:
    """`snakemake -n` on a fresh clone (no demo data yet) plans the whole DAG."""
    work = tmp_path / "fresh clone"
    (work / "config").mkdir(parents=True)
    for f in (REPO / "config").glob("*.yaml"):
        (work / "config" / f.name).write_text(f.read_text())
    jobs = planned(work, None)
    assert jobs["demo"] == 1 and jobs["train"] == 1 and jobs["aggregate"] == 1
    assert jobs["discover"] >= 4 and jobs["extract"] >= jobs["discover"]
    from dreem.synth.demo import ANIMAL_DEFAULTS

    new = len(ANIMAL_DEFAULTS["test"])  # track-only: animals_new (untracked test clips), gtr
    assert jobs["track"] == jobs["evaluate"] + new and jobs["evaluate"] > 0
    assert jobs.get("render", 0) >= 1
    assert not (work / "demo_data").exists()
    # the cluster profile parses too (plugin options, per-rule resources, job arrays)
    slurm = REPO / "profiles" / "slurm"
    assert planned(work, None, "--workflow-profile", str(slurm)) == jobs


# The README's SLURM command, as written there (profile path made absolute).
README_SLURM = [
    "--workflow-profile",
    str(REPO / "profiles" / "slurm"),
    "--default-resources",
    "slurm_partition=cpu",
    "slurm_account=mylab",
    "--set-resources",
    "train:slurm_partition=gpu",
]


def job_resources(workdir: Path, *args: str) -> dict[str, list[dict[str, str]]]:
    """``{rule: [resources of each planned job]}`` from a dry run (no --cores: as typed)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE)]
    cmd += ["--directory", str(workdir), "-n", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=smk_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in (proc.stdout + proc.stderr).splitlines():
        if m := re.match(r"(?:local)?rule (\w+):$", line.strip()):
            rule = m.group(1)
        elif rule and (m := re.match(r"\s+resources: (.*)$", line)):
            pairs = (kv.split("=", 1) for kv in m.group(1).split(", "))
            jobs.setdefault(rule, []).append(dict(pairs))
            rule = None
    return jobs


def test_readme_slurm_dry_run(tmp_path: Path) -> None:
    """The README's SLURM command plans a train job with one GPU on the partition the user
    named, and every job with its cpus_per_task, partition and account (a command-line
    --set-resources replaces a profile's set-resources block, so none may live there)."""
    work = tmp_path / "fresh clone"
    (work / "config").mkdir(parents=True)
    for f in (REPO / "config").glob("*.yaml"):
        (work / "config" / f.name).write_text(f.read_text())
    jobs = job_resources(work, *README_SLURM)
    assert {"train", "extract", "track", "evaluate", "aggregate", "render"} <= set(jobs)
    (train,) = jobs["train"]
    assert train["gpu"] == "1" and train["slurm_partition"] == "gpu"
    assert train["cpus_per_task"] == "8"  # the profile's set-threads
    for rule, planned_jobs in jobs.items():
        if rule == "all":
            continue
        for res in planned_jobs:
            assert int(res["cpus_per_task"]) >= 1, rule
            assert res["slurm_account"] == "mylab", rule
            if rule != "train":
                assert res["slurm_partition"] == "cpu", rule
                assert "gpu" not in res, rule  # device: auto asks the cluster for none
    assert {r["cpus_per_task"] for r in jobs["track"]} == {"2"}
    # a CPU-only model asks for no GPU; `device: gpu` gives each track job one
    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    cfg["models"]["gtr"]["overrides"] = ["trainer.accelerator=cpu"]
    cfg["device"] = "gpu"
    (work / "cpu.yaml").write_text(yaml.safe_dump(cfg))
    jobs = job_resources(work, *README_SLURM, "--configfile", str(work / "cpu.yaml"))
    assert "gpu" not in jobs["train"][0]
    model_track = [r for r in jobs["track"] if r.get("gpu") == "1"]
    assert len(model_track) == len(jobs["track"]) // 2  # gtr's jobs, not the baseline's


def test_invalid_config_names_key(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path)
    (tmp_path / "dreem tiny.yaml").write_text(yaml.safe_dump(TINY_DREEM))
    cfg["evaluate"]["datasets"] = ["a_tset"]
    proc = run_smk(tmp_path, write_config(tmp_path, "bad", cfg), "-n", check=False)
    assert proc.returncode != 0
    assert "evaluate.datasets[0]" in proc.stdout + proc.stderr
    cfg = tiny_config(tmp_path)
    cfg["models"]["baseline"]["max_centre_dist"] = 3
    proc = run_smk(tmp_path, write_config(tmp_path, "bad2", cfg), "-n", check=False)
    assert proc.returncode != 0 and "max_centre_dist" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- the real run


@pytest.mark.slow
def test_tiny_run_outputs(tiny: Path) -> None:
    import sleap_io as sio

    from dreem.io.shards import read_shard

    for name in ("metrics.csv", "metrics.png", "report.html"):
        assert out(tiny, "summary", name).stat().st_size > 0
    assert out(tiny, "models", "gtr", "best.ckpt").stat().st_size > 0
    for name in ("best.ckpt", "last.ckpt", "metrics.csv", "config.yaml", "curves.png"):
        assert out(tiny, "models", "gtr", "train", name).stat().st_size > 0
    assert len(list(out(tiny, "videos").rglob("*.mp4"))) == 4  # 2 models x 2 datasets
    # validation tracking used the model's own tracker section, though it is not a train
    # param here (best.ckpt is chosen by val_loss)
    trained = yaml.safe_load(out(tiny, "models", "gtr", "train", "config.yaml").read_text())
    assert trained["tracker"]["window_size"] == TINY_DREEM["tracker"]["window_size"] == 4

    videos = {"a_test": "test_00", "c_test": "01"}
    for model in ("gtr", "baseline"):
        for ds, vid in videos.items():
            tracks = pd.read_parquet(out(tiny, "tracks", model, ds, f"{vid}.parquet"))
            (shard_path,) = out(tiny, "datasets", ds, "crops").glob(f"*/{vid}.parquet")
            shard = read_shard(shard_path, with_crops=False)
            want = sorted(zip(shard.frame_idx.tolist(), shard.instance_idx.tolist(), strict=True))
            got = sorted(zip(tracks.frame_idx.tolist(), tracks.instance_idx.tolist(), strict=True))
            assert got == want, f"{model}/{ds}: every shard instance exactly once"
            assert (tracks.track_id >= 0).all(), f"{model}/{ds}: all instances tracked"

            m = pd.read_csv(out(tiny, "metrics", model, ds, f"{vid}.csv"))
            assert list(m.columns) == ["model", "dataset", "video_id", "metric", "value"]
            ctc = {"ctc_det", "ctc_tra", "ctc_lnk"}
            if ds == "c_test":  # cell data: CTC DET/TRA/LNK beside the MOT metrics
                assert ctc <= set(m.metric)
                m = m[~m.metric.str.startswith("ctc_")]
            assert sorted(m.metric) == sorted(METRICS)
            v = dict(zip(m.metric, m.value, strict=True))
            assert -1e9 < v["mota"] <= 1 and 0 <= v["idf1"] <= 1 and v["num_switches"] >= 0
            assert (m.model == model).all() and (m.dataset == ds).all()

        labels = sio.load_slp(str(out(tiny, "tracks", model, "a_test", "test_00.slp")))
        tracks = pd.read_parquet(out(tiny, "tracks", model, "a_test", "test_00.parquet"))
        instances = [inst for lf in labels.labeled_frames for inst in lf.instances]
        assert len(instances) == len(tracks)
        assert all(inst.track is not None for inst in instances)
    assert (out(tiny, "tracks", "gtr", "c_test", "01_RES") / "res_track.txt").is_file()
    import cv2

    cap = cv2.VideoCapture(str(out(tiny, "videos", "gtr", "a_test", "test_00.mp4")))
    assert cap.get(cv2.CAP_PROP_FPS) == 25, "rendered at the source frame rate"
    assert cap.get(cv2.CAP_PROP_FRAME_HEIGHT) >= 480, "scaled up to a watchable size"

    summary = pd.read_csv(out(tiny, "summary", "metrics.csv"))
    assert set(summary.model) >= {"gtr", "baseline"}
    assert set(summary.dataset) >= {"a_test", "c_test"}
    assert out(tiny, "logs", "train", "gtr.log").stat().st_size > 0
    # a job ends its process at once when done (exit_now): its last line reached the log
    track_logs = sorted(out(tiny, "logs", "track").rglob("*.log"))
    assert track_logs and all("tracks" in p.read_text().splitlines()[-1] for p in track_logs)


@pytest.mark.slow
def test_cli_train_equals_pipeline_train(tiny: Path, tmp_path: Path) -> None:
    """`dreem train` on a DREEM config holding the same data makes the same plan decisions
    and the same checkpoint as the pipeline's train job."""
    import torch

    from dreem.config.pipeline import load_pipeline_config
    from dreem.pipeline.plan import Plan
    from dreem.stages import train_plan_config

    demo = tiny / "demo data" / "animals"
    crop = {"crop_size": 32, "anchors": "thorax"}
    dreem = copy.deepcopy(TINY_DREEM)
    dreem["seed"] = 0  # the tiny pipeline's seed
    dreem["dataset"]["train_dataset"].update(dir={"path": str(demo / "train")}, **crop)
    dreem["dataset"]["val_dataset"].update(dir={"path": str(demo / "val")}, **crop)
    cfg = tmp_path / "cli.yaml"
    cfg.write_text(yaml.safe_dump(dreem))
    cli = Plan(load_pipeline_config(train_plan_config(cfg, tmp_path / "cli", name="gtr")))
    old = Path.cwd()
    os.chdir(tiny)
    try:
        pipe = Plan(load_pipeline_config(tiny / "config.yaml"))
    finally:
        os.chdir(old)
    assert cli.train_params("gtr") == pipe.train_params("gtr")
    assert cli.train_crop("gtr") == pipe.train_crop("gtr")

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dreem.cli import main; main()",
            "train",
            str(cfg),
            "-o",
            str(tmp_path / "cli"),
            "--name",
            "gtr",
        ],
        capture_output=True,
        text=True,
        env=smk_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    def weights(path: Path) -> dict:
        return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]

    a = weights(tmp_path / "cli" / "models" / "gtr" / "train" / "best.ckpt")
    b = weights(out(tiny, "models", "gtr", "train", "best.ckpt"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_cli_eval_reproduces_pipeline_metrics(tiny: Path, tmp_path: Path) -> None:
    """`dreem eval DIR -m best.ckpt` tracks with the checkpoint's crops and tracker: the
    metrics equal the pipeline's for that checkpoint."""
    ckpt = out(tiny, "models", "gtr", "best.ckpt")
    data = tiny / "demo data" / "animals" / "test"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dreem.cli import main; main()",
            "eval",
            str(data),
            "-m",
            f"gtr={ckpt}",
            "-o",
            str(tmp_path / "eval"),
        ],
        capture_output=True,
        text=True,
        env=smk_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cli = pd.read_csv(tmp_path / "eval" / "metrics" / "gtr" / "test" / "test_00.csv")
    pipe = pd.read_csv(out(tiny, "metrics", "gtr", "a_test", "test_00.csv"))
    a = cli.set_index("metric").value.reindex(METRICS)
    b = pipe.set_index("metric").value.reindex(METRICS)
    pd.testing.assert_series_equal(a, b)


# --------------------------------------------------------------------------- rerun matrix


@pytest.mark.slow
def test_rerun_nothing_edited(tiny: Path) -> None:
    assert planned(tiny, tiny / "config.yaml") == {}


@pytest.mark.slow
def test_snakemake_report(tiny: Path) -> None:
    target = tiny / "snakemake report.zip"
    run_smk(tiny, tiny / "config.yaml", "--report", str(target))
    import zipfile

    archive = zipfile.ZipFile(target)
    names = archive.namelist()
    assert any(n.endswith("metrics.png") for n in names)
    assert any(n.endswith(".mp4") for n in names)
    assert any(n.endswith("metrics.csv") for n in names)
    assert any("/data/raw/" in n and n.endswith("report.html") for n in names), "our summary"
    assert any(n.endswith("curves.png") for n in names), "training curves in the report"
    # captions (workflow/report/*.rst) and the workflow description are in its main page
    main = archive.read("snakemake report/report.html").decode()
    for caption in (
        "ID switches (lower is better)",  # workflow.rst
        "tracked by model",  # video.rst
        "Training curves of",  # curves.rst
        "Headline metrics per dataset",  # metrics_png.rst
    ):
        assert caption in main, caption
    html = out(tiny, "summary", "report.html").read_text()
    assert "curves" in html, "training curves embedded in the HTML summary"
    assert html.index("id='headline'") < html.index("Summary figure") < html.index("Per video")


@pytest.mark.slow
def test_mlflow_records_training_and_evaluation(tiny: Path) -> None:
    """MLflow on by default: one store in output_dir, the trained model's run (named after
    it, with per-epoch metrics and artifacts) carries the evaluation means."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{out(tiny, 'mlflow.db').resolve()}")
    exp = client.get_experiment_by_name("dreem-pipeline")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert {"gtr", "baseline"} <= set(runs)
    gtr = runs["gtr"]
    assert gtr.data.tags["dreem.kind"] == "trained" and gtr.info.status == "FINISHED"
    assert gtr.data.params["model.d_model"] == "32"
    summary = pd.read_csv(out(tiny, "summary", "metrics.csv"), dtype={"video_id": str})
    mean = summary[(summary.video_id == "__mean__") & (summary.model == "gtr")]
    want = mean[(mean.dataset == "a_test") & (mean.metric == "idf1")].value.item()
    assert gtr.data.metrics["eval/a_test/idf1"] == pytest.approx(want)
    assert client.get_metric_history(gtr.info.run_id, "train_loss")
    names = {a.path for a in client.list_artifacts(gtr.info.run_id)}
    assert {"config.yaml", "curves.png", "metrics.csv", "record.json"} <= names


@pytest.mark.slow
def test_rerun_tracker_edit(tiny: Path) -> None:
    dreem = copy.deepcopy(TINY_DREEM)
    dreem["tracker"]["window_size"] = 3
    cfg = write_config(tiny, "tracker edit", tiny_config(tiny), dreem)
    # no validation tracking: training does not depend on the tracker; the published
    # checkpoint records it, and tracking onward reruns
    assert planned(tiny, cfg) == {
        "publish": 1,
        "track": 2,
        "evaluate": 2,
        "render": 2,
        "aggregate": 1,
        "all": 1,
    }


@pytest.mark.slow
def test_rerun_tracker_edit_with_validation_tracking(tiny: Path) -> None:
    """When best.ckpt is chosen by a validation tracking metric, a tracker edit retrains."""
    dreem = copy.deepcopy(TINY_DREEM)
    dreem["runner"] = {"metrics": {"val": ["num_switches"]}}
    dreem["checkpointing"] = {"monitor": ["val_num_switches"]}
    base = write_config(tiny, "val tracking", tiny_config(tiny), dreem)
    assert planned(tiny, base).get("train") == 1  # a different training run
    dreem["tracker"]["window_size"] = 3
    cfg = write_config(tiny, "val tracking edit", tiny_config(tiny), dreem)
    from dreem.config.pipeline import load_pipeline_config
    from dreem.pipeline.plan import Plan

    a, b = Plan(load_pipeline_config(base)), Plan(load_pipeline_config(cfg))
    assert a.train_params("gtr") != b.train_params("gtr")
    assert a.train_params("gtr")["cfg"]["tracker"]["window_size"] == 4


@pytest.mark.slow
def test_rerun_baseline_tracker_edit(tiny: Path) -> None:
    cfg = tiny_config(tiny)
    cfg["models"]["baseline"]["max_center_dist"] = 7.5
    path = write_config(tiny, "baseline edit", cfg)
    assert planned(tiny, path) == {"track": 2, "evaluate": 2, "render": 2, "aggregate": 1, "all": 1}


@pytest.mark.slow
def test_rerun_optimizer_edit(tiny: Path) -> None:
    dreem = copy.deepcopy(TINY_DREEM)
    dreem["optimizer"]["lr"] = 2.0e-4
    cfg = write_config(tiny, "optimizer edit", tiny_config(tiny), dreem)
    assert planned(tiny, cfg) == {
        "train": 1,
        "publish": 1,
        "track": 2,
        "evaluate": 2,
        "render": 2,
        "aggregate": 1,
        "all": 1,
    }


@pytest.mark.slow
def test_rerun_crop_edit(tiny: Path) -> None:
    cfg = tiny_config(tiny)
    cfg["datasets"]["a_test"]["crop_size"] = 40
    path = write_config(tiny, "crop edit", cfg)
    assert planned(tiny, path) == {
        "extract": 1,
        "track": 2,
        "evaluate": 2,
        "render": 2,
        "aggregate": 1,
        "all": 1,
    }
    cfg = tiny_config(tiny)
    cfg["datasets"]["a_train"]["crop_size"] = 40
    path = write_config(tiny, "train crop edit", cfg)
    assert planned(tiny, path) == {
        "extract": 1,
        "train": 1,
        "publish": 1,
        "track": 2,
        "evaluate": 2,
        "render": 2,
        "aggregate": 1,
        "all": 1,
    }


@pytest.mark.slow
def test_detection_level_ground_truth_reruns_only_evaluate(tiny: Path) -> None:
    cfg = tiny_config(tiny)
    cfg["evaluate"]["ground_truth"] = {"a_test": "a_test"}  # its own labels as ground truth
    cfg["evaluate"]["threshold"] = 3.0
    path = write_config(tiny, "ground truth", cfg)
    assert planned(tiny, path) == {"evaluate": 2, "aggregate": 1, "all": 1}
    csv = out(tiny, "metrics", "gtr", "a_test", "test_00.csv")
    identity = pd.read_csv(csv).set_index("metric").value
    run_smk(tiny, path)
    detection = pd.read_csv(csv).set_index("metric").value
    # the same detections as ground truth: detection-level matching finds every pair, so
    # the scores equal the identity-only ones
    pd.testing.assert_series_equal(detection.sort_index(), identity.sort_index())
    log = out(tiny, "logs", "evaluate", "gtr", "a_test", "test_00.log").read_text()
    assert "detection-level evaluation against" in log
    run_smk(tiny, tiny / "config.yaml")  # back to identity-only for the other tests


@pytest.mark.slow
def test_rerun_metrics_edit(tiny: Path) -> None:
    cfg = tiny_config(tiny)
    cfg["evaluate"]["metrics"] = ["mota", "idf1"]
    path = write_config(tiny, "metrics edit", cfg)
    assert planned(tiny, path) == {"evaluate": 4, "aggregate": 1, "all": 1}


@pytest.mark.slow
def test_rerun_added_dataset(tiny: Path) -> None:
    """A new dataset with the same video stems as another: only its jobs + aggregate."""
    cfg = tiny_config(tiny)
    cfg["datasets"]["a_test2"] = copy.deepcopy(cfg["datasets"]["a_test"])
    cfg["evaluate"]["datasets"].append("a_test2")
    path = write_config(tiny, "added dataset", cfg)
    assert planned(tiny, path) == {
        "discover": 1,
        "extract": 1,
        "track": 2,
        "evaluate": 2,
        "render": 2,
        "aggregate": 1,
        "all": 1,
    }
    outs = planned_outputs(tiny, path)
    assert out(tiny, "tracks", "gtr", "a_test2", "test_00.parquet") in outs
    assert out(tiny, "tracks", "gtr", "a_test", "test_00.parquet") not in outs


# --------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_twenty_datasets_dry_run_fast(tiny: Path) -> None:
    """20 datasets (equal video stems across them, paired at parse time) plan in seconds."""
    cfg = tiny_config(tiny)
    demo = tiny / "demo data"
    cfg["demo"]["enabled"] = False
    cfg["output_dir"] = "out 20"
    cfg["datasets"] = {}
    for i in range(20):
        kind = "cells" if i % 2 else "animals"
        suffix = ".tif" if kind == "cells" else ".slp"
        vid = ".tif" if kind == "cells" else ".mp4"
        cfg["datasets"][f"ds{i:02d}"] = {
            "dir": {"path": str(demo / kind / "test"), "labels_suffix": suffix, "vid_suffix": vid},
            "crop_size": 32,
        }
    cfg["models"]["gtr"]["train"] = ["ds00"]
    cfg["models"]["gtr"]["val"] = ["ds02"]
    cfg["evaluate"]["datasets"] = sorted(cfg["datasets"])
    path = write_config(tiny, "twenty", cfg)
    t0 = time.monotonic()
    jobs = planned(tiny, path)
    elapsed = time.monotonic() - t0
    assert jobs["discover"] == 20 and jobs["extract"] == 20
    assert jobs["track"] == 40 and jobs["evaluate"] == 40 and jobs["render"] == 40
    assert elapsed < 30, f"dry-run of 20 datasets took {elapsed:.1f} s"
    outs = planned_outputs(tiny, path)
    assert out(tiny, "tracks", "gtr", "ds00", "test_00.parquet").parent.parent.name == "gtr"
    assert tiny / "out 20/tracks/gtr/ds00/test_00.parquet" in outs
    assert tiny / "out 20/tracks/gtr/ds02/test_00.parquet" in outs


@pytest.mark.slow
def test_added_video_reruns_only_it(tiny: Path, tmp_path: Path) -> None:
    """User data (paired at parse time): a new video in a dataset runs only its own jobs."""
    data = tmp_path / "my videos"
    data.mkdir()
    demo = tiny / "demo data" / "animals"
    for suffix in (".slp", ".mp4"):
        shutil.copy(demo / "test" / f"test_00{suffix}", data / f"first{suffix}")
    cfg = tiny_config(tmp_path)
    cfg["demo"]["enabled"] = False
    cfg["datasets"] = {
        "mine": {
            "dir": {"path": str(data), "labels_suffix": ".slp", "vid_suffix": ".mp4"},
            "crop_size": 32,
        }
    }
    del cfg["models"]["gtr"]
    cfg["evaluate"] = {"datasets": ["mine"], "models": ["baseline"], "metrics": ["mota"]}
    path = write_config(tmp_path, "mine", cfg)
    run_smk(tmp_path, path)
    for suffix in (".slp", ".mp4"):
        shutil.copy(demo / "val" / f"val_00{suffix}", data / f"second{suffix}")
    assert planned(tmp_path, path) == {
        "discover": 1,
        "extract": 1,
        "track": 1,
        "evaluate": 1,
        "aggregate": 1,
        "all": 1,
    }
    outs = {
        p.relative_to(out(tmp_path, "datasets")).as_posix()
        for p in planned_outputs(tmp_path, path)
        if "crops" in p.parts
    }
    assert any(p.startswith("mine/crops/") and p.endswith("/second.parquet") for p in outs)
    assert not any(p.endswith("/first.parquet") for p in outs)


# --------------------------------------------------------------------------- faults


def _finished_extracts(log: Path) -> int:
    return log.read_text(errors="replace").count("(Rule: extract)") if log.exists() else 0


@pytest.mark.slow
def test_kill_and_resume(tmp_path: Path) -> None:
    """Kill the whole run mid-extraction/tracking; nothing half-written looks complete, and
    the rerun finishes without redoing jobs that had completed."""
    root = tmp_path / "kill run"
    root.mkdir()
    cfg = tiny_config(root)
    cfg["demo"]["animals"]["test"] = [{"name": f"test_{k:02d}", "n_animals": 2} for k in range(3)]
    cfg["datasets"] = {k: v for k, v in cfg["datasets"].items() if k in ("a_test", "c_test")}
    del cfg["models"]["gtr"]
    cfg["evaluate"]["models"] = ["baseline"]
    cfg["evaluate"]["render"] = False
    path = write_config(root, "config", cfg)

    log = root / "snakemake.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            smk_cmd(root, path),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=smk_env(),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while _finished_extracts(log) < 1 and proc.poll() is None:
            assert time.monotonic() < deadline, "no extract job finished in time"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not out(root, "summary", "metrics.csv").exists(), "killed too late to test"

    # every output that exists under its final name is complete (readable)
    for f in out(root).rglob("*.parquet"):
        if not f.name.startswith("."):
            pd.read_parquet(f)
    for f in out(root, "metrics").rglob("*.csv"):
        if not f.name.startswith("."):
            assert set(pd.read_csv(f).columns) >= {"metric", "value"}

    run_smk(root, None, "--unlock", "--configfile", str(path))
    redo = planned_outputs(root, path)
    kept = {
        f: f.stat().st_mtime_ns
        for f in out(root).rglob("*")
        if f.is_file()
        and not f.name.startswith(".")
        and "logs" not in f.parts
        and f not in redo
        and f.with_suffix(".parquet") not in redo  # the .csv copy of a redone output
        and f.suffix in (".parquet", ".csv")
    }
    assert any(f.parent.parent.name == "crops" for f in kept), "a completed extract must be kept"
    run_smk(root, path)
    assert out(root, "summary", "report.html").is_file()
    for f, mtime in kept.items():
        assert f.stat().st_mtime_ns == mtime, f"{f} was redone"
    assert planned(root, path) == {}
