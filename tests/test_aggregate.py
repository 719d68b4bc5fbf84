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
