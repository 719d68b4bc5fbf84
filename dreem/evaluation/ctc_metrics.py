"""Cell Tracking Challenge measures DET, TRA and LNK (+ division F1) on label masks.

Implemented here (no extra dependency; traccuracy needs ``click<8.2`` and numba, which clash
with this environment), following the published AOGM definitions (Matula et al. 2015;
LNK as in py-ctcmetrics / CHOTA):

* Vertices: every (frame, label) present in a mask. A reference (GT) vertex R matches the
  result vertex S of the same frame with ``|R ∩ S| > 0.5 |R|`` (so each R matches at most
  one S).
* Edges: *track links* ``(t, L) → (t+1, L)`` for a label present in consecutive frames, and
  *parent links* from the parent's last appearance before the child's first frame to the
  child's first appearance, for every ``L B E P`` line with ``P > 0`` (divisions and gap
  closing).
* Graph operations: NS (split a result vertex matched to k > 1 GT vertices: k − 1), FN (GT
  vertex without a match), FP (result vertex without a match), ED (result edge without a GT
  counterpart, including edges of FP vertices), EA (GT edge without a result counterpart),
  EC (edge present in both with a different kind: link vs parent).
* ``AOGM = 5 NS + 10 FN + 1 FP + 1 ED + 1.5 EA + 1 EC``; ``TRA = 1 − min(AOGM, AOGM₀)/AOGM₀``
  with ``AOGM₀ = 10 |V_GT| + 1.5 |E_GT|``; DET uses only the vertex terms
  (``AOGM₀ = 10 |V_GT|``); LNK only the edge terms (``AOGM₀ = 1.5 |E_GT|``).
* Division F1 (only when the GT has divisions, i.e. a parent with ≥ 2 children): a GT
  division is found when a result parent with ≥ 2 children has its last vertex matched to
  the GT parent's last vertex and the first vertices of two of its children matched to the
  GT children's first vertices (same frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dreem.utils.errors import InputDataError

WEIGHTS = {"NS": 5.0, "FN": 10.0, "FP": 1.0, "ED": 1.0, "EA": 1.5, "EC": 1.0}
LINK, PARENT = "link", "parent"


@dataclass
class Graph:
    """Vertices ``(t, label)`` and typed edges of one tracking result or ground truth."""

    vertices: set[tuple[int, int]]
    edges: dict[tuple[tuple[int, int], tuple[int, int]], str]
    divisions: list[tuple[tuple[int, int], list[tuple[int, int]]]]


def _mask_paths(folder: Path) -> list[Path]:
    from dreem.io.tiff_frames import list_tiffs

    folder = Path(folder)
    if not folder.is_dir():
        raise InputDataError(f"CTC folder not found: {folder}")
    files = list_tiffs(folder)
    if not files:
        raise InputDataError(f"no mask .tif files in {folder}")
    return files


def _read_lineage(path: Path) -> list[tuple[int, int, int, int]]:
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            lab, b, e, p = (int(x) for x in parts)
        except ValueError as err:
            raise InputDataError(f"{path}:{n}: expected 'L B E P', got {line!r}") from err
        out.append((lab, b, e, p))
    return out


def build_graph(frames_labels: list[np.ndarray], lineage: list[tuple[int, int, int, int]]) -> Graph:
    """Graph from the label ids present in each frame and the ``L B E P`` lines."""
    vertices = {(t, int(lab)) for t, labs in enumerate(frames_labels) for lab in labs}
    edges: dict = {}
    for t in range(len(frames_labels) - 1):
        for lab in np.intersect1d(frames_labels[t], frames_labels[t + 1]):
            edges[((t, int(lab)), (t + 1, int(lab)))] = LINK
    present: dict[int, list[int]] = {}
    for t, labs in enumerate(frames_labels):
        for lab in labs:
            present.setdefault(int(lab), []).append(t)
    children: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for lab, b, _e, p in lineage:
        if p <= 0 or lab not in present or p not in present:
            continue
        starts = [t for t in present[lab] if t >= b]
        before = [t for t in present[p] if starts and t < starts[0]]
        if not starts or not before:
            continue
        src, dst = (before[-1], p), (starts[0], lab)
        edges[(src, dst)] = PARENT
        children.setdefault(src, []).append(dst)
    divisions = [(src, kids) for src, kids in children.items() if len(kids) >= 2]
    return Graph(vertices, edges, divisions)


def _frame_matches(gt: np.ndarray, res: np.ndarray) -> list[tuple[int, int]]:
    """``(gt_label, res_label)`` pairs with overlap > half the GT object."""
    g = gt.ravel().astype(np.int64)
    r = res.ravel().astype(np.int64)
    fg = g > 0
    sizes = dict(zip(*np.unique(g[fg], return_counts=True), strict=True))
    both = fg & (r > 0)
    if not both.any():
        return []
    pairs, counts = np.unique(np.stack([g[both], r[both]]), axis=1, return_counts=True)
    return [
        (int(a), int(b))
        for (a, b), c in zip(pairs.T, counts, strict=True)
        if c > 0.5 * sizes[int(a)]
    ]


def ctc_scores(gt_dir: Path, res_dir: Path) -> dict[str, float]:
    """DET, TRA, LNK, the AOGM operation counts and (if GT divides) division F1.

    ``gt_dir`` is a ``TRA`` folder (masks + optional ``man_track.txt``); ``res_dir`` a
    ``_RES`` folder (masks + optional ``res_track.txt``). Masks are paired in natural order.
    """
    import tifffile

    gt_files, res_files = _mask_paths(gt_dir), _mask_paths(res_dir)
    if len(gt_files) != len(res_files):
        raise InputDataError(
            f"{gt_dir} has {len(gt_files)} masks but {res_dir} has {len(res_files)}"
        )
    gt_labels, res_labels, match = [], [], {}
    for t, (gf, rf) in enumerate(zip(gt_files, res_files, strict=True)):
        g, r = tifffile.imread(gf), tifffile.imread(rf)
        if g.shape != r.shape:
            raise InputDataError(f"mask size differs: {gf} {g.shape} vs {rf} {r.shape}")
        gl, rl = np.unique(g), np.unique(r)
        gt_labels.append(gl[gl > 0])
        res_labels.append(rl[rl > 0])
        for a, b in _frame_matches(g, r):
            match[(t, a)] = (t, b)
    gt = build_graph(gt_labels, _read_lineage(Path(gt_dir) / "man_track.txt"))
    res = build_graph(res_labels, _read_lineage(Path(res_dir) / "res_track.txt"))
    hits: dict[tuple[int, int], int] = {}
    for s in match.values():
        hits[s] = hits.get(s, 0) + 1
    ops = {
        "NS": float(sum(k - 1 for k in hits.values() if k > 1)),
        "FN": float(len(gt.vertices) - len(match)),
        "FP": float(len(res.vertices - set(hits))),
    }
    mapped = {}
    ea = ec = 0
    for (u, v), kind in gt.edges.items():
        su, sv = match.get(u), match.get(v)
        key = (su, sv)
        if su is None or sv is None or key not in res.edges:
            ea += 1
            continue
        mapped[key] = True
        if res.edges[key] != kind:
            ec += 1
    ops["EA"], ops["EC"] = float(ea), float(ec)
    ops["ED"] = float(sum(1 for e in res.edges if e not in mapped))
    cost = {k: WEIGHTS[k] * v for k, v in ops.items()}
    det0 = WEIGHTS["FN"] * len(gt.vertices)
    lnk0 = WEIGHTS["EA"] * len(gt.edges)
    det_cost = cost["NS"] + cost["FN"] + cost["FP"]
    lnk_cost = cost["ED"] + cost["EA"] + cost["EC"]

    def score(c: float, c0: float) -> float:
        return float("nan") if c0 == 0 else 1.0 - min(c, c0) / c0

    out = {
        "ctc_det": score(det_cost, det0),
        "ctc_tra": score(det_cost + lnk_cost, det0 + lnk0),
        "ctc_lnk": score(lnk_cost, lnk0),
        "ctc_aogm": det_cost + lnk_cost,
        **{f"ctc_{k.lower()}": v for k, v in ops.items()},
    }
    if gt.divisions:
        out.update(_division_f1(gt, res, match))
    return out


def _division_f1(gt: Graph, res: Graph, match: dict) -> dict[str, float]:
    found = 0
    used: set = set()
    for parent, kids in gt.divisions:
        for j, (rp, rkids) in enumerate(res.divisions):
            if j in used or match.get(parent) != rp:
                continue
            hit = sum(1 for k in kids if match.get(k) in rkids)
            if hit >= 2:
                found += 1
                used.add(j)
                break
    tp, fn, fp = found, len(gt.divisions) - found, len(res.divisions) - found
    f1 = 2 * tp / (2 * tp + fn + fp) if (tp + fn + fp) else float("nan")
    return {"division_f1": f1, "division_tp": tp, "division_fn": fn, "division_fp": fp}


def ctc_summary(gt_dir: Path, res_dir: Path) -> pd.DataFrame:
    """:func:`ctc_scores` as tidy ``metric, value`` rows (for ``write_metrics``)."""
    scores = ctc_scores(gt_dir, res_dir)
    return pd.DataFrame({"metric": list(scores), "value": [float(v) for v in scores.values()]})
