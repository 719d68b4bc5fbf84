"""CTC DET/TRA/LNK on tiny hand-checked mask sequences (values cross-checked against
py-ctcmetrics 1.3.3 during development)."""

from __future__ import annotations

import numpy as np
import pytest

from dreem.evaluation.ctc_metrics import ctc_scores, ctc_summary
from dreem.utils.errors import InputDataError


def _write(folder, frames, lines, prefix):
    import tifffile

    folder.mkdir(parents=True)
    for t, objs in enumerate(frames):
        m = np.zeros((32, 32), np.uint16)
        for lab, y, x in objs:
            m[y - 2 : y + 2, x - 2 : x + 2] = lab
        tifffile.imwrite(folder / f"{prefix}{t:03d}.tif", m)
    txt = "man_track.txt" if prefix == "man_track" else "res_track.txt"
    (folder / txt).write_text("\n".join(lines) + "\n")


def _gt(tmp_path, with_division=False):
    frames = [[(1, 8, 4 + 3 * t), (2, 24, 4 + 3 * t)] for t in range(3)]
    lines = ["1 0 2 0", "2 0 2 0"]
    if with_division:
        frames.append([(1, 8, 13), (3, 20, 13), (4, 28, 13)])
        lines = ["1 0 3 0", "2 0 2 0", "3 3 3 2", "4 3 3 2"]
    _write(tmp_path / "GT" / "TRA", frames, lines, "man_track")
    return tmp_path / "GT" / "TRA", frames, lines


def test_perfect_result_scores_one(tmp_path):
    gt, frames, lines = _gt(tmp_path)
    _write(tmp_path / "RES", frames, lines, "mask")
    s = ctc_scores(gt, tmp_path / "RES")
    assert (s["ctc_det"], s["ctc_tra"], s["ctc_lnk"]) == (1.0, 1.0, 1.0)
    assert "division_f1" not in s  # GT has no divisions


def test_identity_swap_costs_edges_only(tmp_path):
    gt, frames, _ = _gt(tmp_path)
    swapped = frames[:2] + [[(2, 8, 10), (1, 24, 10)]]
    _write(tmp_path / "RES", swapped, ["1 0 2 0", "2 0 2 0"], "mask")
    s = ctc_scores(gt, tmp_path / "RES")
    assert s["ctc_det"] == 1.0
    assert (s["ctc_ea"], s["ctc_ed"], s["ctc_ec"]) == (2, 2, 0)
    assert s["ctc_tra"] == pytest.approx(1 - 5 / 66)
    assert s["ctc_lnk"] == pytest.approx(1 - 5 / 6)


def test_missed_and_spurious_objects_and_division(tmp_path):
    gt, frames, lines = _gt(tmp_path, with_division=True)
    res = [list(f) for f in frames]
    res[1] = [res[1][0], (7, 28, 28)]  # object 2 missed in frame 1, a spurious object added
    res[3] = [(1, 8, 13), (5, 20, 13), (6, 28, 13)]  # division found but children not linked
    lines_res = ["1 0 3 0", "2 0 0 0", "7 1 1 0", "2 2 2 0", "5 3 3 0", "6 3 3 0"]
    _write(tmp_path / "RES", res, lines_res, "mask")
    s = ctc_scores(gt, tmp_path / "RES")
    assert (s["ctc_fn"], s["ctc_fp"], s["ctc_ns"]) == (1, 1, 0)
    assert s["ctc_det"] == pytest.approx(1 - 11 / 90)
    assert s["division_f1"] == 0.0 and s["division_fn"] == 1
    table = ctc_summary(gt, tmp_path / "RES")
    assert {"ctc_det", "ctc_tra", "ctc_lnk"} <= set(table.metric)


def test_mismatched_lengths_name_folders(tmp_path):
    gt, frames, lines = _gt(tmp_path)
    _write(tmp_path / "RES", frames[:2], lines, "mask")
    with pytest.raises(InputDataError, match="RES"):
        ctc_scores(gt, tmp_path / "RES")
