"""aggregate(): summary CSV with means, PNG figure, self-contained HTML report."""

from __future__ import annotations

import pandas as pd
import pytest

from dreem.evaluation.aggregate import MEAN_ID, aggregate
from dreem.utils.errors import InputDataError


def _csv(path, model, dataset, video, idf1, switches):
    rows = [("idf1", idf1), ("mota", idf1 - 0.1), ("num_switches", switches)]
    df = pd.DataFrame(
        [(model, dataset, video, m, v) for m, v in rows],
        columns=["model", "dataset", "video_id", "metric", "value"],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def test_aggregate_writes_csv_png_html(tmp_path):
    csvs = [
        _csv(tmp_path / "m/gtr/a.csv", "gtr", "flies", "a", 1.0, 0),
        _csv(tmp_path / "m/gtr/b.csv", "gtr", "flies", "b", 0.8, 2),
        _csv(tmp_path / "m/base/a.csv", "baseline", "flies", "a", 0.5, 9),
        _csv(tmp_path / "m/base/c.csv", "baseline", "cells", "001", 0.7, 1),
    ]
    video = tmp_path / "videos" / "a.mp4"
    video.parent.mkdir()
    video.write_bytes(b"")
    out = aggregate(csvs, tmp_path / "summary", title="Demo <report>", videos=[video])
    table = pd.read_csv(out["csv"], dtype={"video_id": str})
    means = table[table.video_id == MEAN_ID].set_index(["model", "dataset", "metric"]).value
    assert means["gtr", "flies", "idf1"] == pytest.approx(0.9)
    assert means["gtr", "flies", "num_switches"] == pytest.approx(1.0)
    assert len(table) == 12 + 9
    assert "001" in set(table.video_id)  # ids stay strings
    png = (tmp_path / "summary" / "metrics.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "summary" / "report.html").read_text()
    assert "data:image/png;base64," in html and "Demo &lt;report&gt;" in html
    assert "../videos/a.mp4" in html
    assert out["means"].loc[("flies", "baseline"), "num_switches"] == 9


def test_aggregate_rejects_bad_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputDataError, match="bad.csv"):
        aggregate([bad], tmp_path / "s")


def _tidy(path, model, dataset, video, values: dict):
    df = pd.DataFrame(
        [(model, dataset, video, m, v) for m, v in values.items()],
        columns=["model", "dataset", "video_id", "metric", "value"],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def test_report_headline_first_with_directions_hard_cases_and_provenance(tmp_path):
    ctc = {"ctc_det": 0.9, "ctc_tra": 0.8, "ctc_lnk": 0.7, "ctc_fp": 3.0}
    csvs = [
        _tidy(
            tmp_path / "1.csv", "gtr", "flies", "a", {"idf1": 0.95, "mota": 0.9, "num_switches": 1}
        ),
        _tidy(
            tmp_path / "2.csv",
            "gtr",
            "flies",
            "hard",
            {"idf1": 0.6, "mota": 0.5, "num_switches": 7},
        ),
        _tidy(
            tmp_path / "3.csv", "base", "flies", "a", {"idf1": 0.9, "mota": 0.9, "num_switches": 2}
        ),
        _tidy(
            tmp_path / "4.csv",
            "base",
            "flies",
            "hard",
            {"idf1": 0.7, "mota": 0.6, "num_switches": 3},
        ),
        _tidy(tmp_path / "5.csv", "gtr", "cells", "01", {"idf1": 0.8, "num_switches": 0, **ctc}),
    ]
    manifest = tmp_path / "manifest.parquet"
    pd.DataFrame(
        {
            "video_id": ["a", "hard"],
            "n_frames": [100, 50],
            "n_labeled_frames": [100, 50],
            "n_instances": [400, 200],
            "n_tracks": [4, 4],
        }
    ).to_parquet(manifest)
    prov = {
        "models": {
            "gtr": {
                "kind": "trained",
                "config": "cfg.yaml",
                "config_hash": "abc123def456",
                "train": ["flies_train"],
                "val": ["flies_val"],
            },
            "base": {"kind": "baseline", "baseline": "centroid", "config_hash": "0123456789ab"},
        },
        "datasets": {"flies": {"manifest": str(manifest), "source": "data/flies"}},
    }
    from dreem.evaluation.provenance import collect

    out = aggregate(csvs, tmp_path / "summary", provenance=collect(prov))
    head = out["headline"]
    # scores are means over videos, counts totals
    assert head.loc[("flies", "gtr"), "idf1"] == pytest.approx(0.775)
    assert head.loc[("flies", "gtr"), "num_switches"] == 8
    assert out["values"].loc[("flies", "gtr"), "num_switches"] == 8  # what MLflow gets
    assert out["means"].loc[("flies", "gtr"), "num_switches"] == 4  # metrics.csv __mean__
    assert list(head.columns[:4]) == ["videos", "idf1", "mota", "num_switches"]
    assert list(head.columns[4:]) == ["ctc_tra", "ctc_det", "ctc_lnk"]
    # the hard clip: the trained model has more switches and a lower IDF1 than the baseline
    cases = {(c["video_id"], c["metric"]) for c in out["hard_cases"]}
    assert cases == {("hard", "num_switches"), ("hard", "idf1")}

    html = (tmp_path / "summary" / "report.html").read_text()
    order = [html.index(s) for s in ("id='headline'", "Hard cases", "Provenance", "Per video")]
    assert order == sorted(order), "headline, then hard cases, provenance, per-video table"
    headline = html[html.index("id='headline'") : html.index("</table>")]
    assert headline.index("IDF1 ↑") < headline.index("MOTA ↑") < headline.index("ID switches ↓")
    assert headline.index("ID switches ↓") < headline.index("CTC TRA ↑")
    assert "ctc_fp" not in headline and "CTC FP" not in headline
    assert "<b>hard</b> (flies): gtr 7 ID switches vs base 3" in html
    assert "higher is better" in html and "lower is better" in html
    for text in ("abc123def456", "flies_train", "cfg.yaml", "600", "150", "dreem-pipeline 0.1.0"):
        assert text in html, text
    png = (tmp_path / "summary" / "metrics.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_says_when_no_trained_model_is_worse(tmp_path):
    csvs = [
        _tidy(tmp_path / "1.csv", "gtr", "flies", "a", {"idf1": 0.95, "num_switches": 1}),
        _tidy(tmp_path / "2.csv", "baseline", "flies", "a", {"idf1": 0.9, "num_switches": 2}),
    ]
    out = aggregate(csvs, tmp_path / "s")
    assert out["hard_cases"] == []
    assert "No video where a trained model" in out["html"].read_text()
