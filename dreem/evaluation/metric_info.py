"""What each reported metric means: a label, its direction and how videos are combined.

Rates and scores (IDF1, MOTA, CTC TRA/DET/LNK, ...) are averaged over a dataset's videos;
counts (ID switches, fragmentations, misses, ...) are summed, so a dataset total reads as
"this many switches in these videos".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """``better``: ``higher``/``lower``/None; ``total``: summed over videos (else mean)."""

    label: str
    better: str | None
    definition: str
    total: bool = False

    @property
    def arrow(self) -> str:
        return {"higher": "↑", "lower": "↓"}.get(self.better or "", "")


def _count(label: str, definition: str, better: str | None = "lower") -> MetricInfo:
    return MetricInfo(label, better, definition, total=True)


METRICS: dict[str, MetricInfo] = {
    "idf1": MetricInfo(
        "IDF1",
        "higher",
        "identity F1: the share of detections given the identity of the ground-truth track "
        "they belong to, after the best one-to-one matching of whole tracks (0-1). The "
        "headline measure of keeping identities.",
    ),
    "mota": MetricInfo(
        "MOTA",
        "higher",
        "multiple-object tracking accuracy: 1 − (misses + false positives + ID switches) / "
        "ground-truth detections (≤ 1; can be negative).",
    ),
    "num_switches": _count(
        "ID switches",
        "times a ground-truth animal or cell changes its predicted track id (counted per "
        "video, summed over a dataset's videos).",
    ),
    "idp": MetricInfo("IDP", "higher", "identity precision (0-1)."),
    "idr": MetricInfo("IDR", "higher", "identity recall (0-1)."),
    "motp": MetricInfo("MOTP", "lower", "mean distance between matched detections."),
    "precision": MetricInfo("precision", "higher", "matched / predicted detections (0-1)."),
    "recall": MetricInfo("recall", "higher", "matched / ground-truth detections (0-1)."),
    "mostly_tracked": _count(
        "mostly tracked", "ground-truth tracks covered ≥ 80 % of their life.", "higher"
    ),
    "partially_tracked": _count(
        "partially tracked", "ground-truth tracks covered 20-80 % of their life.", None
    ),
    "mostly_lost": _count("mostly lost", "ground-truth tracks covered < 20 % of their life."),
    "num_fragmentations": _count(
        "fragmentations", "times a ground-truth track is interrupted (tracked, then lost)."
    ),
    "num_false_positives": _count("false positives", "predicted detections matching nothing."),
    "num_misses": _count("misses", "ground-truth detections left unmatched."),
    "global_tracking_accuracy": MetricInfo(
        "GTA", "higher", "share of ground-truth tracks whose every detection kept one id."
    ),
    "ctc_tra": MetricInfo(
        "CTC TRA",
        "higher",
        "Cell Tracking Challenge tracking accuracy: 1 − normalised AOGM (graph edits of "
        "detections and links needed to turn the result into the ground truth), 0-1.",
    ),
    "ctc_det": MetricInfo(
        "CTC DET", "higher", "CTC detection accuracy: the AOGM detection part only (0-1)."
    ),
    "ctc_lnk": MetricInfo(
        "CTC LNK", "higher", "CTC linking accuracy: the AOGM link part only (0-1)."
    ),
    "ctc_aogm": _count("CTC AOGM", "weighted count of the graph edits behind CTC TRA."),
    "division_f1": MetricInfo("division F1", "higher", "F1 of detected cell divisions."),
}

HEADLINE = ("idf1", "mota", "num_switches")
HEADLINE_CTC = ("ctc_tra", "ctc_det", "ctc_lnk")


def info(metric: str) -> MetricInfo:
    """The metric's info (an unknown metric: its own name, no direction, averaged)."""
    if metric in METRICS:
        return METRICS[metric]
    is_count = metric.startswith(("num_", "ctc_")) or metric.startswith("division_")
    return MetricInfo(metric, None, "", total=is_count)


def header(metric: str) -> str:
    """``IDF1 ↑`` style column header."""
    i = info(metric)
    return f"{i.label} {i.arrow}".strip()
