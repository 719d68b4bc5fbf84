"""The HTML summary a biologist reads: headline first, then hard cases, figure, videos,
training curves, provenance, metric definitions and the per-video table.

The page is one self-contained file (figures embedded as base64 PNG); rendered videos are
linked by relative path and played inline (``<video>``, H.264).
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from dreem.evaluation.metric_info import HEADLINE, HEADLINE_CTC, header, info

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 margin:0 auto;padding:14px 24px;max-width:1240px;color:#1d232a;line-height:1.4}
h1{font-size:1.45em;margin:0 0 2px}
h2{font-size:1.12em;margin:22px 0 6px;border-bottom:1px solid #dde2e7;padding-bottom:3px}
h3{font-size:1em;margin:14px 0 4px}
.meta{color:#5b6773;font-size:.88em;margin:0 0 10px}
table{border-collapse:collapse;font-size:.9em;margin:4px 0}
th,td{border:1px solid #d5dbe1;padding:3px 9px;text-align:right;white-space:nowrap}
th{background:#f1f4f7;font-weight:600}
td.l,th.l{text-align:left}
tr.ds td{border-top:2px solid #9aa6b2}
td.best{font-weight:700;background:#e6f4ea}
.note{color:#5b6773;font-size:.85em;margin:2px 0 8px}
.cases{background:#fff6e5;border:1px solid #f0c36d;border-radius:4px;padding:6px 14px;
 font-size:.92em;margin:4px 0}
.cases.ok{background:#eef7ee;border-color:#9ccc9c}
.cases ul{margin:4px 0;padding-left:20px}
.grid{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0}
figcaption{font-size:.85em;color:#3d4750;margin-top:2px}
video,img.fig{max-width:100%;height:auto}
.scroll{overflow-x:auto;max-width:100%}
td.path{white-space:normal;word-break:break-all;max-width:380px}
dl{font-size:.9em;margin:4px 0} dt{font-weight:600;margin-top:5px} dd{margin-left:18px}
.kind{color:#5b6773;font-size:.85em}
"""


def _img(png: Path, alt: str, cls: str = "fig") -> str:
    data = base64.b64encode(Path(png).read_bytes()).decode()
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def fmt(metric: str, v) -> str:
    """A metric value as shown: counts as integers, scores with 3 decimals."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if info(metric).total:
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    return f"{v:.3f}"


def _best(values: pd.Series, metric: str) -> set:
    """Index labels holding the best value of a column (none when all tie or no direction)."""
    better = info(metric).better
    v = values.dropna()
    if better is None or len(v) < 2 or v.nunique() == 1:
        return set()
    target = v.max() if better == "higher" else v.min()
    return set(v.index[v == target])


def headline_html(head: pd.DataFrame, kinds: Mapping[str, str]) -> str:
    """The headline table: per dataset × model, best value per dataset in bold."""
    if not len(head):
        return "<p>No evaluated videos.</p>"
    metrics = [m for m in (*HEADLINE, *HEADLINE_CTC) if m in head.columns]
    cols = "".join(f"<th>{html.escape(header(m))}</th>" for m in metrics)
    out = [
        "<div class=scroll><table id='headline'><tr><th class=l>Dataset</th>"
        "<th class=l>Model</th>"
        f"<th>Videos</th>{cols}</tr>"
    ]
    for ds, g in head.groupby(level=0, sort=True):
        g = g.droplevel(0)
        order = sorted(g.index, key=lambda m: (kinds.get(m) == "baseline", m))
        g = g.loc[order]  # trained models first, then the baselines
        best = {m: _best(g[m], m) for m in metrics}
        for i, (model, row) in enumerate(g.iterrows()):
            cls = " class=ds" if i == 0 else ""
            kind = kinds.get(model, "")
            kind = "" if kind in str(model) else kind  # "baseline baseline" says it twice
            cells = "".join(
                f"<td{' class=best' if model in best[m] else ''}>{fmt(m, row[m])}</td>"
                for m in metrics
            )
            out.append(
                f"<tr{cls}><td class=l>{html.escape(str(ds)) if i == 0 else ''}</td>"
                f"<td class=l>{html.escape(str(model))} <span class=kind>{kind}</span></td>"
                f"<td>{int(row['videos'])}</td>{cells}</tr>"
            )
    out.append("</table></div>")
    means = ", ".join(info(m).label for m in metrics if not info(m).total)
    totals = ", ".join(info(m).label for m in metrics if info(m).total)
    out.append(
        "<p class=note>↑ higher is better, ↓ lower is better; bold: best in its dataset. "
        f"{means}: mean over the dataset's videos; {totals}: total. "
        "<a href='#definitions'>Definitions</a> · <a href='#per-video'>per video</a>.</p>"
    )
    return "\n".join(out)


def cases_html(cases: Sequence[Mapping], kinds: Mapping[str, str], limit: int = 8) -> str:
    """The hard cases: videos where a trained model is worse than a baseline."""
    trained = [m for m, k in kinds.items() if k != "baseline"]
    baselines = [m for m, k in kinds.items() if k == "baseline"]
    if not trained or not baselines:
        return ""
    if not cases:
        return (
            "<div class='cases ok'>No video where a trained model has more ID switches or a "
            "lower IDF1 than a baseline.</div>"
        )
    items = []
    for c in cases[:limit]:
        mi = info(c["metric"])
        items.append(
            f"<li><b>{html.escape(c['video_id'])}</b> ({html.escape(c['dataset'])}): "
            f"{html.escape(c['model'])} {fmt(c['metric'], c['value'])} {mi.label} vs "
            f"{html.escape(c['baseline'])} {fmt(c['metric'], c['baseline_value'])}</li>"
        )
    more = (
        f"<li>… and {len(cases) - limit} more (per-video table)</li>" if len(cases) > limit else ""
    )
    return (
        f"<div class=cases><b>Hard cases</b>: {len(cases)} video comparison(s) where a trained "
        f"model does worse than a baseline (more ID switches, or IDF1 lower by &gt; 0.01):"
        f"<ul>{''.join(items)}{more}</ul></div>"
    )


def videos_html(videos: Sequence[Path], out_dir: Path) -> str:
    """Rendered videos side by side: one row per (dataset, video), one column per model."""
    groups: dict[tuple[str, str], list[Path]] = {}
    for v in videos:
        v = Path(v)  # .../videos/{model}/{dataset}/{video}.mp4
        groups.setdefault((v.parent.name, v.stem), []).append(v)
    parts = []
    for (ds, vid), paths in sorted(groups.items()):
        parts.append(f"<h3>{html.escape(vid)} ({html.escape(ds)})</h3><div class=grid>")
        for v in sorted(paths, key=lambda p: p.parent.parent.name):
            rel = html.escape(Path(os.path.relpath(v, out_dir)).as_posix())
            thumb = v.with_suffix(".png")
            poster = (
                f" poster='{html.escape(Path(os.path.relpath(thumb, out_dir)).as_posix())}'"
                if thumb.is_file()
                else ""
            )
            parts.append(
                f"<figure><video controls loop muted playsinline preload=metadata width=520"
                f"{poster} src='{rel}'></video><figcaption>{html.escape(v.parent.parent.name)}"
                f" · <a href='{rel}'>{html.escape(v.name)}</a></figcaption></figure>"
            )
        parts.append("</div>")
    return "\n".join(parts)


def provenance_html(prov: Mapping, kinds: Mapping[str, str]) -> str:
    """Models (kind, training data, config and hash, date) and datasets (source, counts)."""
    models = prov.get("models", {})
    rows = []
    for m in sorted(kinds):
        p = models.get(m, {})
        trained_on = ", ".join(p.get("train", [])) or "–"
        if p.get("val"):
            trained_on += f" (validation: {', '.join(p['val'])})"
        what = p.get("config") or p.get("checkpoint") or p.get("baseline") or ""
        cells = (
            m,
            p.get("kind", kinds[m]),
            trained_on,
            what,
            p.get("config_hash", "–"),
            p.get("trained_at") or "–",
            p.get("epochs", "–"),
        )
        rows.append(
            "<tr>"
            + "".join(
                f"<td class='l{' path' if i == 3 else ''}'>{html.escape(str(x))}</td>"
                for i, x in enumerate(cells)
            )
            + "</tr>"
        )
    out = [
        "<h3>Models</h3><div class=scroll><table><tr><th class=l>Model</th><th class=l>Kind</th>"
        "<th class=l>Trained on</th><th class=l>Config / checkpoint</th>"
        "<th class=l>Config hash</th><th class=l>Trained</th><th class=l>Epochs</th></tr>",
        *rows,
        "</table></div>",
    ]
    datasets = prov.get("datasets", {})
    if datasets:
        keys = ("videos", "frames", "labelled_frames", "instances", "tracks")
        heads = ("Videos", "Frames", "Labelled frames", "Instances", "GT tracks")
        out.append(
            "<h3>Datasets</h3><div class=scroll><table><tr><th class=l>Dataset</th>"
            "<th class=l>Source</th>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>"
        )
        for d, p in sorted(datasets.items()):
            cells = "".join(
                f"<td>{p[k]:,}</td>" if isinstance(p.get(k), int) else "<td>–</td>" for k in keys
            )
            out.append(
                f"<tr><td class=l>{html.escape(d)}</td>"
                f"<td class='l path'>{html.escape(str(p.get('source', '')))}</td>{cells}</tr>"
            )
        out.append("</table></div>")
    return "\n".join(out)


def definitions_html(metrics: Sequence[str]) -> str:
    items = []
    for m in metrics:
        mi = info(m)
        if not mi.definition:
            continue
        direction = f" — {mi.better} is better" if mi.better else ""
        items.append(
            f"<dt>{html.escape(mi.label)} <code>{m}</code>{direction}</dt>"
            f"<dd>{html.escape(mi.definition)}</dd>"
        )
    return f"<dl>{''.join(items)}</dl>"


def per_video_html(wide: pd.DataFrame) -> str:
    """Per-video table of the metrics the report defines (the rest: metrics.csv)."""
    if not len(wide):
        return ""
    cols = [c for c in wide.columns if info(c).definition]
    out = [
        "<div class=scroll><table><tr><th class=l>Dataset</th><th class=l>Video</th>"
        "<th class=l>Model</th>"
        + "".join(f"<th>{html.escape(header(c))}</th>" for c in cols)
        + "</tr>"
    ]
    last = None
    for (ds, vid, model), row in wide.iterrows():
        first = (ds, vid) != last
        last = (ds, vid)
        out.append(
            f"<tr{' class=ds' if first else ''}><td class=l>{html.escape(ds) if first else ''}"
            f"</td><td class=l>{html.escape(vid) if first else ''}</td>"
            f"<td class=l>{html.escape(model)}</td>"
            + "".join(f"<td>{fmt(c, row[c])}</td>" for c in cols)
            + "</tr>"
        )
    out.append("</table></div>")
    return "\n".join(out)


def render_html(
    table: pd.DataFrame,
    head: pd.DataFrame,
    cases: Sequence[Mapping],
    png: Path,
    title: str,
    out_dir: Path,
    extra_figures: Sequence[Path] = (),
    videos: Sequence[Path] = (),
    provenance: Mapping | None = None,
    kinds: Mapping[str, str] | None = None,
) -> str:
    """The whole page (see module docstring)."""
    from dreem.evaluation.aggregate import MEAN_ID, per_video_table

    prov, kinds = provenance or {}, dict(kinds or {})
    rows = table[table.video_id != MEAN_ID]
    n_videos = rows.groupby("dataset").video_id.nunique().sum() if len(rows) else 0
    meta = [
        f"{n_videos} video(s) in {rows.dataset.nunique() if len(rows) else 0} dataset(s)",
        f"{len(kinds)} model(s)",
    ]
    if prov.get("generated"):
        meta.append(f"generated {prov['generated']}")
    if prov.get("code_version"):
        meta.append(f"dreem-pipeline {prov['code_version']}")
    present = list(dict.fromkeys(rows.metric)) if len(rows) else []
    shown = [m for m in (*HEADLINE, *HEADLINE_CTC) if m in present]
    shown += sorted(m for m in present if m not in shown and info(m).definition)
    parts = [
        "<!doctype html><html lang=en><head><meta charset='utf-8'>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class=meta>{html.escape(' · '.join(meta))}</p>",
        "<h2>Headline: tracking quality per dataset and model</h2>",
        headline_html(head, kinds),
        cases_html(cases, kinds),
        "<h2>Summary figure</h2>",
        "<figure>" + _img(png, "headline metrics per dataset and model"),
        "<figcaption>Bars: dataset value per model (IDF1, MOTA: mean over videos; ID "
        "switches: total); dots: single videos.</figcaption></figure>",
    ]
    if videos:
        parts += [
            "<h2>Tracked videos</h2>",
            "<p class=note>Boxes and ids as each model assigned them, at the source frame "
            "rate; the same video for each model, side by side.</p>",
            videos_html(videos, out_dir),
        ]
    figs = [Path(f) for f in extra_figures]
    if figs:
        parts.append("<h2>Training curves</h2><div class=grid>")
        for fig in figs:
            model = fig.parent.parent.name if fig.parent.name == "train" else fig.stem
            if fig.suffix.lower() == ".png" and fig.is_file():
                img = _img(fig, f"{model} training curves")
                parts.append(
                    f"<figure>{img}<figcaption>{html.escape(model)}: loss and validation "
                    "metrics per epoch</figcaption></figure>"
                )
            else:
                rel = html.escape(os.path.relpath(fig, out_dir))
                parts.append(f"<p><a href='{rel}'>{html.escape(fig.name)}</a></p>")
        parts.append("</div>")
    parts += [
        "<h2>Provenance</h2>",
        provenance_html(prov, kinds),
        "<h2 id=definitions>Metric definitions</h2>",
        definitions_html(shown),
        "<h2 id=per-video>Per video</h2>",
        per_video_html(per_video_table(table)),
        "<p class=note>Every metric of every video (e.g. the CTC graph-edit counts): "
        "<a href='metrics.csv'>metrics.csv</a> next to this page.</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)
