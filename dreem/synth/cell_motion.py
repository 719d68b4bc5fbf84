"""Lineages of synthetic cells: drifting random walks, crowding, divisions, entries and exits.

All cells share a slow drift plus their own momentum random walk; close cells push each
other apart so they crowd without covering one another. A cell divides (when allowed) after
a minimum age: it ends on that frame and two slightly smaller daughters begin on the next
frame on either side of it. A cell whose centre leaves the field ends; new cells
occasionally enter at an edge. Each cell keeps its own look (size, intensity, texture).
"""

from __future__ import annotations

import attrs
import numpy as np


@attrs.define(eq=False)
class Cell:
    """One track segment: label, parent label (0 = none), first frame, look, per-frame state.

    ``xy`` rows are (x, y) centres for frames ``begin .. begin + len(xy) - 1``.
    """

    label: int
    parent: int
    begin: int
    radius: float
    intensity: float
    texture: float
    angle: float
    vel: np.ndarray
    xy: list = attrs.field(factory=list)

    @property
    def end(self) -> int:
        """Last frame (inclusive) on which the cell exists."""
        return self.begin + len(self.xy) - 1


@attrs.define(frozen=True)
class CellParams:
    """Motion and lineage parameters (pixels and frames)."""

    radius: tuple[float, float] = (4.5, 7.0)
    drift_speed: float = 0.6
    jitter: float = 0.8
    momentum: float = 0.7
    min_division_age: int = 8
    division_prob: float = 0.03
    max_cells: int = 40
    enter_prob: float = 0.1


def _new_cell(
    rng: np.random.Generator,
    label: int,
    parent: int,
    begin: int,
    xy: np.ndarray,
    params: CellParams,
    radius: float | None = None,
    like: Cell | None = None,
) -> Cell:
    """A cell with a fresh (or inherited, for daughters) look."""
    lo, hi = params.radius
    return Cell(
        label=label,
        parent=parent,
        begin=begin,
        radius=float(radius if radius is not None else rng.uniform(lo, hi)),
        intensity=float(like.intensity if like else rng.uniform(0.35, 1.0)),
        texture=float(like.texture if like else rng.uniform(0.0, 1.0)),
        angle=float(rng.uniform(0, np.pi)),
        vel=rng.normal(0.0, params.jitter, 2),
        xy=[np.asarray(xy, dtype=float)],
    )


def simulate_cells(
    rng: np.random.Generator,
    n_cells: int,
    n_frames: int,
    size: tuple[int, int],
    divisions: bool,
    params: CellParams,
) -> list[Cell]:
    """Simulate all cell segments over ``n_frames`` in a field of ``size`` = (height, width)."""
    height, width = size
    drift = params.drift_speed * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
    # Half the cells start in one cluster so some are crowded from the first frame.
    centre = rng.uniform([0.3 * width, 0.3 * height], [0.7 * width, 0.7 * height])
    cells: list[Cell] = []
    for i in range(n_cells):
        if i % 2 == 0:
            xy = centre + rng.normal(0.0, 0.08 * min(size), 2)
        else:
            xy = rng.uniform([4, 4], [width - 4, height - 4])
        xy = np.clip(xy, [1, 1], [width - 2, height - 2])
        cells.append(_new_cell(rng, i + 1, 0, 0, xy, params))
    alive = list(cells)
    for _ in range(3):
        _push_apart(alive, size)
    next_label = n_cells + 1
    for t in range(1, n_frames):
        born: list[Cell] = []
        survivors: list[Cell] = []
        for cell in alive:
            age = t - cell.begin
            if (
                divisions
                and age >= params.min_division_age
                and len(alive) + len(born) < params.max_cells
                and rng.random() < params.division_prob
            ):
                axis = rng.uniform(0, np.pi)
                offset = 0.6 * cell.radius * np.array([np.cos(axis), np.sin(axis)])
                for sign in (1.0, -1.0):
                    pos = np.clip(cell.xy[-1] + sign * offset, [0, 0], [width - 1, height - 1])
                    radius = max(0.8 * cell.radius, params.radius[0])
                    child = _new_cell(rng, next_label, cell.label, t, pos, params, radius, cell)
                    born.append(child)
                    next_label += 1
                continue
            cell.vel = params.momentum * cell.vel + rng.normal(0.0, params.jitter, 2)
            survivors.append(cell)
        _step(survivors, drift)
        alive = []
        for cell in survivors:
            x, y = cell.xy[-1]
            if 0 <= x < width and 0 <= y < height:
                alive.append(cell)
            else:  # left the field: the segment ended on the previous frame
                cell.xy.pop()
        if rng.random() < params.enter_prob and len(alive) + len(born) < params.max_cells:
            born.append(_new_cell(rng, next_label, 0, t, _edge_point(rng, size), params))
            next_label += 1
        cells.extend(born)
        alive.extend(born)
        _push_apart(alive, size)
    return cells


def _step(cells: list[Cell], drift: np.ndarray) -> None:
    """Append the next position of each cell (drift + its own velocity)."""
    for cell in cells:
        cell.xy.append(cell.xy[-1] + drift + cell.vel)


def _push_apart(cells: list[Cell], size: tuple[int, int]) -> None:
    """Move the latest centres of ``cells`` apart (in place) towards >= 0.9 * (r_i + r_j)."""
    if len(cells) < 2:
        return
    pos = np.array([c.xy[-1] for c in cells])
    rad = np.array([c.radius for c in cells])
    for _ in range(4):
        diff = pos[:, None] - pos[None]
        dist = np.hypot(diff[..., 0], diff[..., 1]) + np.eye(len(pos))
        overlap = np.clip(0.9 * (rad[:, None] + rad[None]) - dist, 0, None)
        np.fill_diagonal(overlap, 0.0)
        push = (diff / dist[..., None] * overlap[..., None] * 0.5).sum(axis=1)
        pos += push
    height, width = size
    for cell, p in zip(cells, pos, strict=True):
        # Pushing must not move a cell out of the field: that would change its span.
        cell.xy[-1] = np.clip(p, [0, 0], [width - 1e-3, height - 1e-3])


def _edge_point(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A random point just inside one edge of the field."""
    height, width = size
    side = rng.integers(4)
    along = rng.uniform(0.1, 0.9)
    points = [(1.0, along * height), (width - 2.0, along * height)]
    points += [(along * width, 1.0), (along * width, height - 2.0)]
    return np.array(points[side])
