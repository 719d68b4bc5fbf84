"""bench/compare_identity_runs.py: identity reports of two codes, matched by data and seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "compare_identity_runs.py"
CLIPS = ["n3", "n6", "n5_occluded"]


def _report(path: Path, data_seed: int, runs: dict[int, list[int]], idf1=None) -> Path:
    """A report as bench_identity.py writes it, with only the keys the comparison reads;
    ``idf1``: ``{(seed, clip): IDF1}`` (1.0 elsewhere)."""
    idf1 = idf1 or {}
    gtr = {
        str(seed): {
            "clips": {
                c: {"switches": s, "idf1": idf1.get((seed, c), 1.0)}
                for c, s in zip(CLIPS, sw, strict=True)
            }
        }
        for seed, sw in runs.items()
    }
    path.write_text(json.dumps({"seed": data_seed, "clips": CLIPS, "gtr": gtr}))
    return path


def _compare(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True
    )


def test_runs_pair_by_data_and_seed_and_totals_are_tested(tmp_path: Path) -> None:
    from scipy.stats import mannwhitneyu, wilcoxon

    a_runs = {0: [0, 4, 10], 1: [0, 0, 3], 2: [4, 0, 2]}
    b_runs = {0: [0, 4, 18], 1: [2, 0, 3], 2: [0, 0, 2]}
    a = _report(tmp_path / "a.json", 5, a_runs, {(0, "n5_occluded"): 0.934, (2, "n6"): 0.96})
    b = _report(tmp_path / "b.json", 5, b_runs, {(0, "n5_occluded"): 0.993})
    proc = _compare("--a", "before", a, "--b", "after", b)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| 5, n3 (seeds 0–2) | 0 / 0 / 4 (IDF1 ≥ 1.000) | 0 / 2 / 0 (IDF1 ≥ 1.000) |" in out
    assert "| 5, n6 (seeds 0–2) | 4 / 0 / 0 (IDF1 ≥ 0.960) |" in out
    assert (
        "| 5, n5_occluded (seeds 0–2) | 10 / 3 / 2 (IDF1 ≥ 0.934) | 18 / 3 / 2 (IDF1 ≥ 0.993) |"
        in out
    )
    assert "| clips with IDF1 < 0.95 | 1 | 0 |" in out
    assert "after worse in 2, better in 1, the same in 6" in out
    tot_a = [sum(v) for v in a_runs.values()]
    tot_b = [sum(v) for v in b_runs.values()]
    assert f"| all models | {sum(tot_a)} over 3 (per model 3–14) |" in out
    rank_sum = mannwhitneyu(tot_a, tot_b).pvalue
    signed = wilcoxon([y - x for x, y in zip(tot_a, tot_b, strict=True) if y != x]).pvalue
    assert f"rank-sum p = {rank_sum:.3f}" in out
    assert f"signed-rank over the 3 same-seed pairs (3 differ) p = {signed:.3f}" in out


def test_a_run_given_twice_is_an_error_naming_the_file(tmp_path: Path) -> None:
    a = _report(tmp_path / "a.json", 5, {0: [0, 0, 0]})
    again = _report(tmp_path / "again.json", 5, {0: [1, 1, 1]})
    proc = _compare("--a", "x", a, again, "--b", "y", a)
    assert proc.returncode != 0
    assert "again.json" in proc.stderr and "seed 0" in proc.stderr


@pytest.mark.parametrize("args", [["--a", "x", "--b", "y", "r.json"], ["--a", "x", "r.json"]])
def test_each_side_needs_a_name_and_a_report(args: list[str]) -> None:
    proc = _compare(*args)
    assert proc.returncode == 2 and "--a" in proc.stderr
