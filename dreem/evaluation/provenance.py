"""Where a report's numbers come from: for each model its kind, config (path and hash),
training data and date; for each dataset its source and counts; the code version.

:meth:`dreem.pipeline.plan.Plan.provenance` gives the static part (no timestamps, so it
can be a rule parameter); :func:`collect` adds what only exists when the report is made:
counts from the datasets' manifests, training dates and epochs, the date and code version.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from dreem.utils.version import code_version

COUNTS = {
    "videos": None,
    "frames": "n_frames",
    "labelled_frames": "n_labeled_frames",
    "instances": "n_instances",
    "tracks": "n_tracks",
}


def _when(path: Path) -> str | None:
    if not path.exists():
        return None
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M %Z").strip()


def dataset_counts(manifest: Path) -> dict[str, int]:
    """Videos, frames, labelled frames, instances and ground-truth tracks of a manifest."""
    import pandas as pd

    df = pd.read_parquet(manifest)
    out = {"videos": len(df)}
    for key, col in COUNTS.items():
        if col and col in df:
            out[key] = int(df[col].sum())
    return out


def collect(static: Mapping | None) -> dict:
    """``static`` (from the plan) completed with counts, dates and the code version."""
    prov = copy.deepcopy(dict(static or {}))
    for info in prov.get("datasets", {}).values():
        manifest = info.get("manifest")
        if manifest and Path(manifest).is_file():
            info.update(dataset_counts(Path(manifest)))
    for info in prov.get("models", {}).values():
        train_dir = info.get("train_dir")
        if train_dir:
            info["trained_at"] = _when(Path(train_dir) / "best.ckpt")
            metrics = Path(train_dir) / "metrics.csv"
            if metrics.is_file():
                import pandas as pd

                info["epochs"] = int(len(pd.read_csv(metrics)))
        elif info.get("checkpoint"):
            info["trained_at"] = _when(Path(info["checkpoint"]))
    prov["generated"] = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    prov["code_version"] = code_version()
    return prov
