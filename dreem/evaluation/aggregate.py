"""Aggregate per-video metric CSVs into the summary: ``metrics.csv``, ``metrics.png`` and
``report.html`` (:mod:`dreem.evaluation.report_html`).

``metrics.csv`` keeps every tidy row plus one ``video_id == "__mean__"`` row per (model,
dataset, metric). The report's headline table combines a dataset's videos the way each
metric reads (:mod:`dreem.evaluation.metric_info`: scores averaged, counts summed) and the
hard cases compare every trained model with every baseline video by video.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from dreem.evaluation.metric_info import HEADLINE, HEADLINE_CTC, header, info
from dreem.utils.atomic import atomic_path, write_text_atomic
from dreem.utils.errors import InputDataError

COLUMNS = ["model", "dataset", "video_id", "metric", "value"]
PLOT_METRICS = list(HEADLINE)
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


def model_kinds(models: Sequence[str], provenance: Mapping | None) -> dict[str, str]:
    """``trained``/``checkpoint``/``baseline`` per model (from the provenance; without it, a
    name starting with ``baseline`` is a baseline)."""
    known = (provenance or {}).get("models", {})
    return {
        m: known.get(m, {}).get("kind") or ("baseline" if m.startswith("baseline") else "trained")
        for m in models
    }


def dataset_values(rows: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (dataset, model): ``videos`` plus each metric combined over the
    dataset's videos as it reads (:mod:`dreem.evaluation.metric_info`: scores averaged,
    counts summed); ``metrics`` None = every metric present."""
    rows = rows[rows.video_id != MEAN_ID]
    if not len(rows):
        return pd.DataFrame()
    if metrics is None:
        metrics = list(dict.fromkeys(rows.metric))
    out = rows.groupby(["dataset", "model"]).video_id.nunique().rename("videos").to_frame()
    for m in metrics:
        sel = rows[rows.metric == m].groupby(["dataset", "model"]).value
        out[m] = sel.sum(min_count=1) if info(m).total else sel.mean()
    return out


def headline_table(rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`dataset_values` of IDF1, MOTA, ID switches and, where any video has them,
    CTC TRA/DET/LNK."""
    rows = rows[rows.video_id != MEAN_ID]
    if not len(rows):
        return pd.DataFrame()
    present = set(rows.metric)
    metrics = [m for m in HEADLINE if m in present] + [m for m in HEADLINE_CTC if m in present]
    return dataset_values(rows, metrics)


def per_video_table(rows: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Wide per-video table indexed by (dataset, video, model), headline metrics first."""
    rows = rows[rows.video_id != MEAN_ID]
    if not len(rows):
        return pd.DataFrame()
    wide = rows.pivot_table(
        index=["dataset", "video_id", "model"], columns="metric", values="value"
    )
    first = [m for m in (*HEADLINE, *HEADLINE_CTC) if m in wide.columns]
    rest = sorted(c for c in wide.columns if c not in first)
    cols = [c for c in (metrics or first + rest) if c in wide.columns]
    return wide[cols]


def hard_cases(rows: pd.DataFrame, kinds: Mapping[str, str]) -> list[dict]:
    """Videos where a trained model does worse than a baseline: more ID switches, or an
    IDF1 lower by more than 0.01. Each case: dataset, video, model, baseline, metric,
    model value, baseline value (worst first)."""
    wide = per_video_table(rows)
    if not len(wide):
        return []
    trained = [m for m, k in kinds.items() if k != "baseline"]
    baselines = [m for m, k in kinds.items() if k == "baseline"]
    cases = []
    for (ds, vid), g in wide.groupby(level=[0, 1]):
        g = g.droplevel([0, 1])
        for m in trained:
            for b in baselines:
                if m not in g.index or b not in g.index:
                    continue
                for metric, worse in (
                    ("num_switches", lambda x, y: x > y),
                    ("idf1", lambda x, y: x < y - 0.01),
                ):
                    if metric not in g.columns:
                        continue
                    x, y = float(g.at[m, metric]), float(g.at[b, metric])
                    if pd.notna(x) and pd.notna(y) and worse(x, y):
                        gap = (x - y) if metric == "num_switches" else (y - x) * 100
                        cases.append(
                            {
                                "dataset": ds,
                                "video_id": vid,
                                "model": m,
                                "baseline": b,
                                "metric": metric,
                                "value": x,
                                "baseline_value": y,
                                "_gap": gap,
                            }
                        )
    cases.sort(key=lambda c: -c["_gap"])
    return [{k: v for k, v in c.items() if k != "_gap"} for c in cases]


def plot_metrics(table: pd.DataFrame, out_png: Path) -> Path:
    """One panel per headline metric: a bar per (dataset, model) at its dataset value
    (mean, or total for counts) with every video's value as a dot; labelled axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = table[table.video_id != MEAN_ID]
    head = headline_table(rows)
    metrics = [m for m in PLOT_METRICS if m in set(rows.metric)] or PLOT_METRICS
    models = sorted(rows.model.unique())
    datasets = sorted(rows.dataset.unique())
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False)
    cmap = plt.get_cmap("tab10")
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(datasets))
    for ax, metric in zip(axes[0], metrics, strict=False):
        mi = info(metric)
        for k, model in enumerate(models):
            pos = x + (k - (len(models) - 1) / 2) * width
            vals = [
                float(head[metric].get((d, model), np.nan)) if metric in head else np.nan
                for d in datasets
            ]
            ax.bar(pos, vals, width * 0.9, label=model, color=cmap(k % 10), alpha=0.85)
            for p, d in zip(pos, datasets, strict=True):
                v = rows[(rows.metric == metric) & (rows.model == model) & (rows.dataset == d)]
                if len(v) > 1:
                    jitter = np.linspace(-width * 0.25, width * 0.25, len(v))
                    ax.plot(p + jitter, v.value, "o", ms=3.5, color="black", alpha=0.7)
        agg = "total over videos" if mi.total else "mean over videos; dots: videos"
        ax.set_ylabel(f"{mi.label} ({mi.better} is better)" if mi.better else mi.label)
        ax.set_title(f"{header(metric)} ({agg})", fontsize=10)
        ax.set_xticks(x, datasets, rotation=20, ha="right")
        ax.set_xlabel("dataset")
        if metric in ("idf1", "mota"):
            lo = float(np.nanmin(rows.value[rows.metric == metric])) if len(rows) else 0.0
            ax.set_ylim(min(0.0, lo - 0.05), 1.02)
        ax.grid(axis="y", alpha=0.3)
    if models:
        axes[0][-1].legend(title="model", fontsize="small", loc="best")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(out_png)


def aggregate(
    metric_csvs: list[Path],
    out_dir: Path,
    title: str = "dreem-pipeline report",
    extra_figures: list[Path] = (),
    videos: list[Path] = (),
    provenance: Mapping | None = None,
) -> dict:
    """Write ``metrics.csv`` (all rows + means), ``metrics.png`` and ``report.html`` to
    ``out_dir``. ``provenance`` (:func:`dreem.evaluation.provenance.collect`) describes the
    models and datasets for the report.

    Returns the paths written (keys ``csv``, ``png``, ``html``), the means table
    (``means``: a wide DataFrame indexed by dataset and model), the dataset ``values`` (as
    ``means``, but counts summed), the ``headline`` table and the ``hard_cases``.
    """
    from dreem.evaluation.report_html import render_html

    out_dir = Path(out_dir)
    table = with_means(load_metric_csvs(metric_csvs))
    csv_path = out_dir / "metrics.csv"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    png = plot_metrics(table, out_dir / "metrics.png")
    kinds = model_kinds(sorted(table.model.unique()) if len(table) else [], provenance)
    head = headline_table(table)
    cases = hard_cases(table, kinds)
    page = render_html(
        table,
        head,
        cases,
        png,
        title,
        out_dir,
        extra_figures=extra_figures,
        videos=videos,
        provenance=provenance or {},
        kinds=kinds,
    )
    html_path = write_text_atomic(out_dir / "report.html", page)
    means = (
        table[table.video_id == MEAN_ID].pivot_table(
            index=["dataset", "model"], columns="metric", values="value"
        )
        if len(table)
        else pd.DataFrame()
    )
    return {
        "csv": csv_path,
        "png": png,
        "html": html_path,
        "means": means,
        "values": dataset_values(table),
        "headline": head,
        "hard_cases": cases,
    }
