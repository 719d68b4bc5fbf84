"""Aggregate per-video metric CSVs into summary metrics.csv, metrics.png and report.html."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import pandas as pd

from dreem.utils.atomic import atomic_path, write_text_atomic
from dreem.utils.errors import InputDataError

COLUMNS = ["model", "dataset", "video_id", "metric", "value"]
PLOT_METRICS = ["idf1", "mota", "num_switches"]
MEAN_ID = "__mean__"


def load_metric_csvs(paths) -> pd.DataFrame:
    """Concatenate tidy metric CSVs; each must have the five tidy columns."""
    frames = []
    for p in paths:
        p = Path(p)
        try:
            df = pd.read_csv(p, dtype={"video_id": str, "model": str, "dataset": str})
        except (OSError, pd.errors.ParserError) as e:
            raise InputDataError(f"cannot read metrics CSV {p}: {e}") from e
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise InputDataError(f"{p}: metrics CSV lacks column(s) {missing}")
        frames.append(df[COLUMNS])
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def with_means(rows: pd.DataFrame) -> pd.DataFrame:
    """All rows plus one ``video_id == "__mean__"`` row per (model, dataset, metric)."""
    if not len(rows):
        return rows
    means = rows.groupby(["model", "dataset", "metric"], as_index=False, sort=True).value.mean()
    means["video_id"] = MEAN_ID
    return pd.concat([rows, means[COLUMNS]], ignore_index=True)


def plot_metrics(table: pd.DataFrame, out_png: Path) -> Path:
    """Grouped bars of the per-(model, dataset) means of idf1 / mota / num_switches."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    means = table[table.video_id == MEAN_ID]
    metrics = [m for m in PLOT_METRICS if m in set(means.metric)] or PLOT_METRICS
    models = sorted(means.model.unique())
    datasets = sorted(means.dataset.unique())
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.6), squeeze=False)
    cmap = plt.get_cmap("tab10")
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(datasets))
    for ax, metric in zip(axes[0], metrics, strict=False):
        for k, model in enumerate(models):
            sel = means[(means.metric == metric) & (means.model == model)].set_index("dataset")
            vals = [float(sel.value.get(d, np.nan)) for d in datasets]
            ax.bar(
                x + (k - (len(models) - 1) / 2) * width,
                vals,
                width,
                label=model,
                color=cmap(k % 10),
            )
        ax.set_title(metric)
        ax.set_xticks(x, datasets, rotation=20, ha="right")
        if metric in ("idf1", "mota"):
            ax.set_ylim(
                min(
                    0.0,
                    float(np.nanmin(means.value[means.metric == metric]))
                    if (means.metric == metric).any()
                    else 0.0,
                ),
                1.0,
            )
    if models:
        axes[0][-1].legend(fontsize="small", loc="best")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(out_png)


def _img_tag(png: Path, alt: str) -> str:
    data = base64.b64encode(Path(png).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(
    table: pd.DataFrame, png: Path, title: str, out_dir: Path, extra_figures=(), videos=()
) -> str:
    """A self-contained HTML report (PNG figures embedded as base64; videos linked)."""
    means = table[table.video_id == MEAN_ID]
    wide = means.pivot_table(index=["dataset", "model"], columns="metric", values="value")
    per_video = table[table.video_id != MEAN_ID].pivot_table(
        index=["dataset", "model", "video_id"], columns="metric", values="value"
    )
    fmt = lambda v: f"{v:.4g}"  # noqa: E731
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Mean per model and dataset</h2>",
        wide.to_html(float_format=fmt, na_rep="–"),
        "<h2>Summary figure</h2>",
        _img_tag(png, "metrics"),
    ]
    for fig in extra_figures:
        fig = Path(fig)
        if fig.suffix.lower() == ".png" and fig.is_file():
            parts += [f"<h3>{html.escape(fig.stem)}</h3>", _img_tag(fig, fig.stem)]
        else:
            rel = os.path.relpath(fig, out_dir)
            parts.append(f"<p><a href='{html.escape(rel)}'>{html.escape(fig.name)}</a></p>")
    if videos:
        parts.append("<h2>Videos</h2><ul>")
        for v in videos:
            v = Path(v)
            rel = os.path.relpath(v, out_dir)
            thumb = v.with_suffix(".png")
            img = _img_tag(thumb, v.stem) if thumb.is_file() else ""
            parts.append(
                f"<li><a href='{html.escape(rel)}'>{html.escape(v.name)}</a><br>{img}</li>"
            )
        parts.append("</ul>")
    parts += [
        "<h2>Per video</h2>",
        per_video.to_html(float_format=fmt, na_rep="–"),
        "</body></html>",
    ]
    return "\n".join(parts)


def aggregate(
    metric_csvs: list[Path],
    out_dir: Path,
    title: str = "dreem-pipeline report",
    extra_figures: list[Path] = (),
    videos: list[Path] = (),
) -> dict:
    """Write ``metrics.csv`` (all rows + means), ``metrics.png`` and ``report.html`` to ``out_dir``.

    Returns the paths written (keys ``csv``, ``png``, ``html``) and the means table
    (``means``: a wide DataFrame indexed by dataset and model).
    """
    out_dir = Path(out_dir)
    table = with_means(load_metric_csvs(metric_csvs))
    csv_path = out_dir / "metrics.csv"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    png = plot_metrics(table, out_dir / "metrics.png")
    html_path = write_text_atomic(
        out_dir / "report.html", render_html(table, png, title, out_dir, extra_figures, videos)
    )
    means = (
        table[table.video_id == MEAN_ID].pivot_table(
            index=["dataset", "model"], columns="metric", values="value"
        )
        if len(table)
        else pd.DataFrame()
    )
    return {"csv": csv_path, "png": png, "html": html_path, "means": means}
