"""Training curves: per-epoch losses and validation metrics from ``metrics.csv`` as a PNG."""

from __future__ import annotations

from pathlib import Path

from dreem.utils.atomic import atomic_path


def plot_training_curves(metrics_csv: str | Path, out_png: str | Path, title: str = "") -> Path:
    """Plot every numeric column of a per-epoch ``metrics.csv`` against ``epoch``.

    Losses share the left panel; each other metric (e.g. ``val_num_switches``) gets its own.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(metrics_csv)
    if "epoch" not in df.columns or df.empty:
        raise ValueError(f"{metrics_csv}: no per-epoch rows to plot")
    losses = [c for c in df.columns if c.endswith("loss")]
    others = [
        c
        for c in df.columns
        if c not in losses and c != "epoch" and pd.api.types.is_numeric_dtype(df[c])
    ]
    panels = [losses] + [[c] for c in others] if losses else [[c] for c in others]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.5 * max(len(panels), 1), 3.2))
    axes = [axes] if len(panels) <= 1 else list(axes)
    for ax, cols in zip(axes, panels, strict=False):
        for col in cols:
            ax.plot(df["epoch"], df[col], marker="o", label=col)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (lower is better)" if cols is losses else cols[0])
        ax.set_title(", ".join(cols))
        if len(cols) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return out_png
