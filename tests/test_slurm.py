"""The workflow on a real (single-node) SLURM cluster via snakemake-executor-plugin-slurm.

Starts the cluster with scripts/slurm_cluster.sh (needs root and apt-get; skipped
otherwise), runs the tiny workflow of tests/test_workflow.py with profiles/slurm-test under a
hard kill timeout, and compares its metrics with the local run of the same config and seed.
Takes about 2-3 minutes on 2 cores (each SLURM job starts its own Snakemake + Python).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_workflow import REPO, TINY_DREEM, run_smk, smk_cmd, smk_env, tiny_config, tiny_run
from test_workflow import write_config as write_cfg

CLUSTER = REPO / "scripts" / "slurm_cluster.sh"
pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _can_run_cluster() -> str | None:
    """Why the cluster cannot be started here (None if it can)."""
    if os.geteuid() != 0:
        return "needs root to install/start SLURM"
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        return "neither SLURM nor apt-get is available"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[workflow]')"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = _can_run_cluster()
    if reason:
        pytest.skip(reason)
    was_running = subprocess.run([str(CLUSTER), "status"], capture_output=True).returncode == 0
    proc = subprocess.run([str(CLUSTER), "start"], capture_output=True, text=True, timeout=300)
    if proc.returncode == 3:  # SLURM absent and not installable here
        pytest.skip(f"could not install SLURM: {proc.stderr[-500:]}")
    assert proc.returncode == 0, f"slurm_cluster.sh start failed:\n{proc.stderr}"
    yield
    if not was_running:
        subprocess.run([str(CLUSTER), "stop"], capture_output=True, timeout=60)


def test_slurm_matches_local(cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    local = tiny_run(tmp_path_factory)

    root = tmp_path_factory.mktemp("slurm run")
    (root / "dreem tiny.yaml").write_text(yaml.safe_dump(TINY_DREEM))
    cfg = write_cfg(root, "config", tiny_config(root))
    cmd = smk_cmd(root, cfg, "--workflow-profile", str(REPO / "profiles" / "slurm-test"))
    # The plugin waits forever if it never sees a job finish, and ignores SIGTERM: KILL.
    proc = subprocess.run(
        ["timeout", "-s", "KILL", "480", *cmd], capture_output=True, text=True, env=smk_env()
    )
    log = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, f"SLURM run failed (rc {proc.returncode}):\n{log}"
    assert "has been submitted with SLURM jobid" in proc.stdout + proc.stderr

    def metrics(base: Path) -> pd.DataFrame:
        df = pd.read_csv(base / "out dir" / "summary" / "metrics.csv")
        return df.sort_values(["model", "dataset", "video_id", "metric"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(metrics(root), metrics(local), check_exact=False, atol=1e-6)
    # same seed, same code: the same checkpoint-driven tracks, detection by detection
    for model in ("gtr", "baseline"):
        rel = Path("out dir") / "tracks" / model / "a_test" / "test_00.parquet"
        cols = ["frame_idx", "instance_idx", "track_id"]
        pd.testing.assert_frame_equal(
            pd.read_parquet(root / rel)[cols], pd.read_parquet(local / rel)[cols]
        )
    # nothing left to do afterwards, locally either
    proc = run_smk(root, cfg, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr
