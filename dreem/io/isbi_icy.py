"""ISBI 2012 particle-tracking XML and ICY track XML → a detections table.

Both formats hold a list of tracks, each a list of ``<detection t= x= y= .../>`` rows:
ISBI under ``<TrackContestISBI2012><particle>``, ICY under ``<trackgroup><track>``.
Tracks get sequential ids ``0..K-1`` in file order. Output columns as in
:mod:`dreem.io.trackmate`: ``frame, track_id, x, y``.
"""

from __future__ import annotations

from pathlib import Path

from dreem.utils.errors import InputDataError

ROOT_TAGS = {"isbi": ("TrackContestISBI2012", "particle"), "icy": ("trackgroup", "track")}


def parse_isbi_icy(path: str | Path, source: str):
    """Parse an ISBI (``source='isbi'``) or ICY (``source='icy'``) XML file."""
    import xml.etree.ElementTree as ET

    import pandas as pd

    path = Path(path)
    if source not in ROOT_TAGS:
        raise InputDataError(f"{path}: source must be one of {sorted(ROOT_TAGS)}, got {source!r}")
    if not path.exists():
        raise InputDataError(f"{source} XML file not found: {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise InputDataError(f"cannot parse XML {path}: {e}") from e
    group_tag, track_tag = ROOT_TAGS[source]
    groups = [root] if root.tag == group_tag else list(root.iter(group_tag))
    if not groups:
        hint = next(
            (
                s
                for s, (g, _) in ROOT_TAGS.items()
                if s != source and (root.tag == g or root.find(f".//{g}") is not None)
            ),
            "trackmate" if root.find(".//Model") is not None or root.tag == "TrackMate" else None,
        )
        raise InputDataError(
            f"{path}: no <{group_tag}> element, so not an {source} XML"
            + (f" (it looks like {hint}; set source: {hint})" if hint else "")
        )
    rows = []
    tid = 0
    for g in groups:
        for track in g.findall(track_tag):
            for det in track.iter("detection"):
                try:
                    t = float(det.get("t"))
                    x = float(det.get("x"))
                    y = float(det.get("y"))
                except (TypeError, ValueError) as e:
                    raise InputDataError(f"{path}: malformed <detection> {det.attrib}: {e}") from e
                if t != int(t) or t < 0:
                    raise InputDataError(f"{path}: detection with invalid frame t={t}")
                rows.append((int(t), tid, x, y))
            tid += 1
    if not rows:
        raise InputDataError(f"{path}: no detections")
    return pd.DataFrame(rows, columns=["frame", "track_id", "x", "y"])
