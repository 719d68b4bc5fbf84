"""Synthetic cell movies in Cell Tracking Challenge (CTC) layout.

Layout written under ``out_dir`` (``nnn`` = frame index, zero-padded to 3 digits, or more
for longer movies)::

    {name}/t{nnn}.tif                      raw frames, (H, W) ``dtype`` (uint16 or uint8)
    {name}_GT/TRA/man_track{nnn}.tif       uint16 label masks: 0 background, label = track id
    {name}_GT/TRA/man_track.txt            one line per track: ``L B E P`` (label, first frame,
                                           last frame, parent label or 0)

Every label is present in its mask on exactly the frames ``B..E`` of its line. Cells drift,
crowd, divide (the parent's last frame is ``E``; both daughters begin at ``E + 1`` with
``P`` = parent) and may enter or leave the field; see :mod:`dreem.synth.cell_motion`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from dreem.synth.cell_motion import Cell, CellParams, simulate_cells
from dreem.synth.render import ellipse_window

_DTYPE_MAX = {"uint16": 1400.0, "uint8": 250.0}  # brightest cell + background, per dtype


def generate_cells(
    out_dir: Path,
    name: str = "01",
    seed: int = 0,
    n_cells: int = 12,
    n_frames: int = 30,
    size: tuple[int, int] = (128, 128),
    divisions: bool = True,
    dtype: str = "uint16",
) -> Path:
    """Write one CTC sequence ``{name}`` and its ``{name}_GT/TRA`` into ``out_dir``.

    ``size`` is (height, width). Returns the raw sequence folder ``out_dir / name``. Both
    folders are built in a temporary folder and renamed into place (GT first, raw last), so
    an interrupted run never leaves a raw folder without its ground truth.
    """
    if dtype not in _DTYPE_MAX:
        raise ValueError(f"dtype must be one of {sorted(_DTYPE_MAX)}, got {dtype!r}")
    if n_cells < 1 or n_frames < 1:
        raise ValueError(f"n_cells and n_frames must be >= 1, got {n_cells}, {n_frames}")
    height, width = (int(v) for v in size)
    motion_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2)
    )
    cells = simulate_cells(motion_rng, n_cells, n_frames, (height, width), divisions, CellParams())
    raw, masks = render_cells(noise_rng, cells, n_frames, (height, width), dtype)
    check_masks(masks, cells)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(n_frames - 1)))
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir))
    try:
        _write_sequence(tmp, name, raw, masks, cells, digits)
        for sub in (f"{name}_GT", name):
            target = out_dir / sub
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp / sub, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / name


def _write_sequence(
    root: Path, name: str, raw: np.ndarray, masks: np.ndarray, cells: list[Cell], digits: int
) -> None:
    """Write raw frames, masks and ``man_track.txt`` under ``root``."""
    import tifffile

    raw_dir = root / name
    tra_dir = root / f"{name}_GT" / "TRA"
    raw_dir.mkdir(parents=True)
    tra_dir.mkdir(parents=True)
    for t in range(len(raw)):
        tifffile.imwrite(raw_dir / f"t{t:0{digits}d}.tif", raw[t])
        tifffile.imwrite(tra_dir / f"man_track{t:0{digits}d}.tif", masks[t])
    lines = [
        f"{c.label} {c.begin} {c.end} {c.parent}\n" for c in sorted(cells, key=lambda c: c.label)
    ]
    (tra_dir / "man_track.txt").write_text("".join(lines))


def render_cells(
    rng: np.random.Generator,
    cells: list[Cell],
    n_frames: int,
    size: tuple[int, int],
    dtype: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Render raw frames (n_frames, H, W) ``dtype`` and label masks (n_frames, H, W) uint16.

    Each cell is a textured ellipse (its own size, brightness, orientation and texture
    frequency); masks are drawn in label order with each centre pixel stamped last, so
    every living cell keeps at least its centre in the mask.
    """
    height, width = size
    top = _DTYPE_MAX[dtype]
    background = 0.12 * top
    raw = np.full((n_frames, height, width), background, dtype=np.float32)
    masks = np.zeros((n_frames, height, width), dtype=np.uint16)
    for cell in cells:
        for i, (cx, cy) in enumerate(cell.xy):
            _draw_cell(raw[cell.begin + i], masks[cell.begin + i], cell, cx, cy, top)
    for cell in cells:
        for i, (cx, cy) in enumerate(cell.xy):
            masks[cell.begin + i, int(cy), int(cx)] = cell.label
    raw += rng.normal(0.0, 0.02 * top, raw.shape).astype(np.float32)
    np.clip(raw, 0, np.iinfo(dtype).max, out=raw)
    return np.rint(raw).astype(dtype), masks


def _draw_cell(
    frame: np.ndarray, mask: np.ndarray, cell: Cell, cx: float, cy: float, top: float
) -> None:
    """Add one cell to ``frame`` (H, W) float and write its label into ``mask`` (H, W)."""
    a, b = 1.15 * cell.radius, 0.87 * cell.radius
    window = ellipse_window(frame.shape, cx, cy, a, b, cell.angle, pad=(1, 2))
    if window is None:
        return
    ys, xs, u, v = window
    r = np.sqrt(u**2 + v**2)
    inside = r <= 1.0
    freq = 2.0 + 4.0 * cell.texture
    grain = 1.0 + 0.25 * np.sin(freq * u * np.pi) * np.cos(freq * v * np.pi)
    value = 0.85 * top * cell.intensity * (0.7 + 0.3 * np.cos(0.5 * np.pi * r)) * grain
    alpha = np.clip(0.5 + (1.0 - r) * b, 0.0, 1.0)
    patch = frame[ys, xs]
    patch += alpha * (value - patch)
    mask[ys, xs][inside] = cell.label


def check_masks(masks: np.ndarray, cells: list[Cell]) -> None:
    """Raise ``RuntimeError`` unless each label appears in its masks on exactly frames B..E."""
    spans = {c.label: (c.begin, c.end) for c in cells}
    for t, mask in enumerate(masks):
        present = set(np.unique(mask).tolist()) - {0}
        expected = {lab for lab, (b, e) in spans.items() if b <= t <= e}
        if present != expected:
            raise RuntimeError(
                f"synthetic cell masks inconsistent at frame {t}: "
                f"missing {sorted(expected - present)}, extra {sorted(present - expected)}"
            )
