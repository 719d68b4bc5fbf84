"""TrackMate label files → a detections table.

Every parser in this package returns a :class:`pandas.DataFrame` with columns
``frame`` (int, 0-based), ``track_id`` (int, -1 = untracked), ``x``, ``y`` (float, pixels),
in file order.

Supported here:

* TrackMate spots CSV (``POSITION_X, POSITION_Y, FRAME, TRACK_ID`` …, 0-based frames; the
  extra header rows of newer exports — full names, short names, units — are skipped);
* MTrackJ-style CSV (``Track n°, Slice n°, X, Y`` …, latin-1, 1-based track and slice →
  0-based);
* TrackMate model XML: spots belonging to the filtered tracks, track ids relabelled
  ``0..K-1`` in filtered-track order.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dreem.utils.errors import InputDataError

TABLE_COLUMNS = ["frame", "track_id", "x", "y"]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def parse_trackmate(path: str | Path):
    """Parse a TrackMate CSV or XML file (see module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"TrackMate file not found: {path}")
    if path.suffix.lower() == ".xml":
        return parse_trackmate_xml(path)
    return parse_trackmate_csv(path)


def parse_trackmate_csv(path: str | Path):
    """TrackMate spots CSV or MTrackJ-style CSV → detections table."""
    import pandas as pd

    path = Path(path)
    try:
        raw = pd.read_csv(path, encoding="latin-1", low_memory=False)
    except Exception as e:
        raise InputDataError(f"cannot read CSV {path}: {e}") from e
    cols = {_norm(c): c for c in raw.columns}

    def find(*names: str, prefix: str | None = None) -> str | None:
        for n in names:
            if n in cols:
                return cols[n]
        if prefix:
            for k, c in cols.items():
                if k.startswith(prefix):
                    return c
        return None

    one_based = False
    frame_c = find("frame", "t")
    track_c = find("trackid")
    if frame_c is None:
        frame_c = find(prefix="slice")
        one_based = frame_c is not None
    if track_c is None:
        track_c = find(prefix="track")
        one_based_track = track_c is not None
    else:
        one_based_track = False
    x_c = find("positionx", "x")
    y_c = find("positiony", "y")
    missing = [n for n, c in (("frame", frame_c), ("x", x_c), ("y", y_c)) if c is None]
    if missing:
        raise InputDataError(
            f"{path}: not a TrackMate/MTrackJ table: no column for {', '.join(missing)} "
            f"(columns: {list(raw.columns)})"
        )
    frame = pd.to_numeric(raw[frame_c], errors="coerce")
    x = pd.to_numeric(raw[x_c], errors="coerce")
    y = pd.to_numeric(raw[y_c], errors="coerce")
    if track_c is not None:
        track = pd.to_numeric(raw[track_c], errors="coerce")
    else:
        track = pd.Series(np.nan, index=raw.index)
    keep = frame.notna() & x.notna() & y.notna()  # drops the extra header rows of new exports
    frame, x, y, track = frame[keep], x[keep], y[keep], track[keep]
    if len(frame) == 0:
        raise InputDataError(f"{path}: no detections (empty table)")
    if (frame != frame.round()).any():
        raise InputDataError(f"{path}: column {frame_c!r} holds non-integer frame numbers")
    frame = frame.astype(np.int64) - (1 if one_based else 0)
    tid = track.fillna(-1).astype(np.int64)
    if one_based_track:
        tid = tid.where(tid < 0, tid - 1)
    if (frame < 0).any():
        raise InputDataError(f"{path}: negative frame numbers after conversion to 0-based")
    return pd.DataFrame(
        {
            "frame": frame.to_numpy(),
            "track_id": tid.to_numpy(),
            "x": x.to_numpy(np.float64),
            "y": y.to_numpy(np.float64),
        }
    ).reset_index(drop=True)


def parse_trackmate_xml(path: str | Path):
    """TrackMate model XML → spots of the filtered tracks (track ids relabelled 0..K-1)."""
    import xml.etree.ElementTree as ET

    import pandas as pd

    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise InputDataError(f"cannot parse XML {path}: {e}") from e
    model = root if root.tag == "Model" else root.find("Model")
    if model is None:
        raise InputDataError(f"{path}: not a TrackMate XML (no <Model> element)")
    spots = {}
    for spot in model.iter("Spot"):
        try:
            spots[int(spot.get("ID"))] = (
                int(float(spot.get("FRAME"))),
                float(spot.get("POSITION_X")),
                float(spot.get("POSITION_Y")),
            )
        except (TypeError, ValueError) as e:
            raise InputDataError(f"{path}: malformed <Spot> {spot.attrib}: {e}") from e
    tracks: dict[int, set[int]] = {}
    all_tracks = model.find("AllTracks")
    for tr in all_tracks.iter("Track") if all_tracks is not None else []:
        ids: set[int] = set()
        for edge in tr.iter("Edge"):
            ids.add(int(edge.get("SPOT_SOURCE_ID")))
            ids.add(int(edge.get("SPOT_TARGET_ID")))
        tracks[int(tr.get("TRACK_ID"))] = ids
    filtered_el = model.find("FilteredTracks")
    filtered = (
        [int(t.get("TRACK_ID")) for t in filtered_el.iter("TrackID")]
        if filtered_el is not None
        else sorted(tracks)
    )
    rows = []
    for new_id, tid in enumerate(filtered):
        for sid in tracks.get(tid, ()):
            if sid not in spots:
                raise InputDataError(f"{path}: track {tid} references unknown spot {sid}")
            f, x, y = spots[sid]
            rows.append((f, new_id, x, y))
    if not rows:
        raise InputDataError(f"{path}: no spots in filtered tracks")
    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return df.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
