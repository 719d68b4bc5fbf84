"""Encoding a shard's crops once, in fixed batches, and the features the tracker still needs.

Crops are streamed row group by row group; every crop is normalised, tiled to 3 channels
per anchor when grey, and encoded exactly once, in consecutive batches of
``batch_size`` rows across frames (so all-at-once and streamed encodings give bit-identical
features). :class:`StreamedFeatures` encodes ahead of the tracker and forgets the features
of rows the tracker can no longer ask for (rows behind the current frame that are in no
track's queue), so memory stays flat in video length.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from dreem.io.shards import iter_shard
from dreem.utils.errors import InputDataError


def _tile_grey(x: np.ndarray, channels: int) -> np.ndarray:
    """``(n, A*C, H, W)`` → ``(n, 3*A, H, W)``; grey (C=1) repeated 3× per anchor."""
    if channels == 3:
        return x
    if channels != 1:
        raise InputDataError(f"crops with {channels} channels per anchor are not supported")
    return np.repeat(x, 3, axis=1)


def model_device(model):
    """The device of the model's parameters (CPU for parameter-less stand-ins)."""
    import torch

    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def autocast(device, bf16: bool):
    """``torch.autocast`` to bfloat16 when ``bf16``, else a no-op context."""
    import torch

    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def _threads(n: int | None):
    """Use ``n`` intra-op threads inside the block (None: leave as is)."""
    import torch

    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def encode_batches(
    model, shard_path: Path, batch_size: int = 64, progress: bool = False, bf16: bool = False
) -> Iterator:
    """``(N_batch, D)`` float32 feature tensors (on the model's device) of consecutive rows,
    in row order."""
    import torch

    device = model_device(model)
    pending: list[np.ndarray] = []
    n_pending = 0

    def flush():  # features stay on the model's device
        x = torch.from_numpy(np.concatenate(pending)).to(device, non_blocking=True)
        with torch.inference_mode(), autocast(device, bf16):
            return model.encode(x).float()

    groups = iter_shard(shard_path, with_crops=True)
    if progress:
        from tqdm.auto import tqdm

        groups = tqdm(groups, desc=f"encode {Path(shard_path).name}", unit="group")
    for data in groups:
        ch = data.meta.channels
        pos = 0
        while pos < len(data):
            hi = min(pos + batch_size - n_pending, len(data))
            pending.append(_tile_grey(data.normalized_crops(slice(pos, hi)), ch))
            n_pending += hi - pos
            pos = hi
            if n_pending >= batch_size:
                yield flush()
                pending, n_pending = [], 0
        data.crops = None
    if pending:
        yield flush()


def encode_shard(
    model, shard_path: Path, batch_size: int = 64, progress: bool = False, bf16: bool = False
):
    """Encode every crop of a shard once; return a ``(N, D)`` float32 CPU tensor."""
    import torch

    feats = list(encode_batches(model, shard_path, batch_size, progress, bf16))
    if not feats:
        return torch.zeros((0, 0))
    return torch.cat(feats).cpu()


class StreamedFeatures:
    """Features of a shard's rows, encoded just ahead of the tracker (see module docstring).

    ``live_rows`` returns the rows still queued in the tracker (set it before tracking);
    :meth:`gather` is what the tracker's ``associate`` calls. ``keep_normalized``: also keep
    an L2-normalised float32 CPU copy of every row's feature (:meth:`normalized`, for the
    track-level swap repair; ``N x d_model`` floats, small beside the crops).
    """

    COMPACT_AT = 8192  # rows held before the first clean-up

    def __init__(
        self,
        model,
        shard_path: Path,
        frame_idx: np.ndarray,
        batch_size: int = 64,
        bf16: bool = False,
        threads: int | None = None,
        keep_normalized: bool = False,
    ):
        import torch

        self._normed: list[np.ndarray] | None = [] if keep_normalized else None
        self._batches = encode_batches(model, shard_path, batch_size, False, bf16)
        self.threads = threads  # intra-op threads while encoding (the tracker may use fewer)
        self._frames = np.asarray(frame_idx)  # sorted: the frame of every row
        self.n_rows = len(self._frames)
        self.live_rows: Callable[[], np.ndarray] = lambda: np.zeros(0, np.int64)
        self._slot = np.full(self.n_rows, -1, np.int64)  # row -> index in _buf (-1: none)
        self._buf = torch.zeros((0, 0))
        self._held: list = []  # batches not yet merged into _buf
        self._n_held = 0
        self._encoded = 0  # rows encoded so far (a prefix of the shard)
        self._frontier = 0  # the tracker never asks for a query row below this again
        self._compact_at = self.COMPACT_AT
        self.peak_rows = 0

    def _merge(self) -> None:
        import torch

        if self._held:
            base = len(self._buf)
            self._buf = torch.cat([self._buf, *self._held]) if base else torch.cat(self._held)
            self._held, self._n_held = [], 0
            assert len(self._buf) >= base

    def _encode_to(self, row: int) -> None:
        import torch

        while self._encoded <= row:
            with _threads(self.threads):
                batch = next(self._batches, None)
            if batch is None:
                raise IndexError(f"row {row} is beyond the shard's {self._encoded} rows")
            n = len(batch)
            if self._normed is not None:
                unit = torch.nn.functional.normalize(batch.detach().float(), dim=1)
                self._normed.append(unit.cpu().numpy())
            start = len(self._buf) + self._n_held
            self._slot[self._encoded : self._encoded + n] = np.arange(start, start + n)
            self._held.append(batch)
            self._n_held += n
            self._encoded += n
        self._merge()
        self.peak_rows = max(self.peak_rows, len(self._buf))
        if len(self._buf) > self._compact_at:
            self._compact()

    def _compact(self) -> None:
        """Forget the rows the tracker can no longer need."""
        import torch

        keep = np.zeros(self.n_rows, bool)
        live = np.asarray(self.live_rows(), np.int64)
        keep[live[live < self._encoded]] = True
        keep[self._frontier : self._encoded] = True
        rows = np.flatnonzero(keep & (self._slot >= 0))
        self._buf = self._buf[torch.from_numpy(self._slot[rows]).to(self._buf.device)].clone()
        self._slot[:] = -1
        self._slot[rows] = np.arange(len(rows))
        self._compact_at = max(self.COMPACT_AT, 2 * len(rows))

    def normalized(self) -> np.ndarray | None:
        """Every row's L2-normalised feature ``(N, D)`` (encodes what is left); None unless
        built with ``keep_normalized``."""
        if self._normed is None:
            return None
        if self.n_rows and self._encoded < self.n_rows:
            self._encode_to(self.n_rows - 1)
        return np.concatenate(self._normed) if self._normed else None

    def gather(self, ref: np.ndarray, query: np.ndarray):
        """Features of ``ref`` and ``query`` rows; ``query`` is the current frame."""
        import torch

        ref, query = np.asarray(ref, np.int64), np.asarray(query, np.int64)
        if len(query):  # the first row of the current frame
            first = np.searchsorted(self._frames, self._frames[int(query.min())], "left")
            self._frontier = max(self._frontier, int(first))
        top = max(int(ref.max(initial=-1)), int(query.max(initial=-1)))
        if top >= 0:
            self._encode_to(top)
        slots = self._slot[np.concatenate([ref, query])]
        if np.any(slots < 0):
            raise RuntimeError("a feature was asked for after it was released")
        out = self._buf[torch.from_numpy(slots).to(self._buf.device)]
        return out[: len(ref)], out[len(ref) :]


class ZeroFeatures:
    """All-zero features (``tracker.use_vis_feats: false``), without holding them."""

    def __init__(self, dim: int):
        self.dim = int(dim)
        self.live_rows: Callable[[], np.ndarray] = lambda: np.zeros(0, np.int64)

    def gather(self, ref: np.ndarray, query: np.ndarray):
        import torch

        return torch.zeros((len(ref), self.dim)), torch.zeros((len(query), self.dim))
