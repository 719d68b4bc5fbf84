"""The training's per-step CSV log and the per-epoch ``metrics.csv`` made from it.

Lightning's ``CSVLogger`` appends rows, but rewrites its whole file in place whenever a
new metric name appears (``val_loss`` after the first validation, ``train_loss`` at the
first epoch end). A run killed inside that rewrite leaves an empty or cut file, and
every earlier row of the run is gone. :class:`KillSafeCSVLogger` does the rewrite into a
temporary file renamed over the old one, so a kill leaves the old rows or the new ones;
an append cut by a kill costs only its last, incomplete line, which
:func:`read_metrics_log` drops.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from dreem.utils.atomic import atomic_path

if TYPE_CHECKING:
    import pandas as pd


class _KillSafeWriter(ExperimentWriter):
    """Lightning's CSV writer with the header rewrite done by an atomic replace."""

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        with open(self.metrics_file_path, newline="") as src:
            rows = list(csv.DictReader(src))
        with atomic_path(self.metrics_file_path) as tmp, open(tmp, "w", newline="") as dst:
            writer = csv.DictWriter(dst, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)


class KillSafeCSVLogger(CSVLogger):
    """A ``CSVLogger`` whose file a kill can cut short but never empty."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KillSafeWriter(log_dir=self.log_dir)
        return self._experiment


def read_metrics_log(path: Path) -> pd.DataFrame | None:
    """The complete rows of one CSV log, or None when it has none.

    A run killed while appending leaves a last line without its newline: that row may
    hold a cut number, so it is dropped rather than read as a wrong value.
    """
    import pandas as pd

    text = path.read_text()
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    if not text.strip():
        return None
    df = pd.read_csv(io.StringIO(text))
    return df if len(df) and "epoch" in df else None


def merge_metrics_logs(log_root: Path, out: Path) -> None:
    """Write ``out``: one row per epoch from every CSV log version under ``log_root``.

    A resumed run's log is a later version; where two versions hold the same epoch the
    later one wins. An epoch's columns a killed run never logged stay empty.
    """
    import pandas as pd

    frames = []
    logs = sorted(log_root.glob("version_*/metrics.csv"), key=_version_number)
    for i, f in enumerate(logs):
        df = read_metrics_log(f)
        if df is not None:
            frames.append(df.assign(_run=i))
    if not frames:
        return
    df = pd.concat(frames, ignore_index=True).dropna(subset=["epoch"])
    df["epoch"] = df["epoch"].astype(int)
    df = df.sort_values(["epoch", "_run"], kind="stable")
    cols = [c for c in df.columns if c not in ("step", "_run", "epoch")]
    per_epoch = df.groupby("epoch")[cols].last().reset_index()
    front = [c for c in ("epoch", "train_loss", "val_loss") if c in per_epoch]
    per_epoch = per_epoch[front + sorted(c for c in per_epoch if c not in front)]
    with atomic_path(out) as tmp:
        per_epoch.to_csv(tmp, index=False)


def _version_number(path: Path) -> int:
    try:
        return int(path.parent.name.split("_")[-1])
    except ValueError:
        return 0
