"""Find labels↔video pairs of a dataset spec and build its manifest.

A dataset spec is a DREEM dataset section. Accepted forms (first match wins):

* ``slp_files`` + ``video_files``: explicit SLEAP lists, paired by file stem (a single file
  in each list is paired regardless of names);
* ``raw_images`` + ``gt_images`` (+ optional ``ctc_track_meta`` / ``gt_list``): explicit CTC
  sequences, paired by position; each item is a folder or a list of per-frame TIFFs;
* ``tracks`` + ``videos`` + ``source``: explicit centroid tables (TrackMate CSV/XML, ISBI
  XML, ICY XML), paired by position; a video is a TIFF stack, a folder or a list of frames;
* ``dir: {path, labels_suffix, vid_suffix}``: every directory in ``path`` (str or list) is
  listed (not recursively). ``.slp`` → SLEAP, ``.tif``/``.tiff`` (or a folder holding
  ``X`` + ``X_GT/TRA``) → CTC, ``.csv``/``.xml`` → table (needs ``source``).

``truncate_labels: true`` (tables only) ignores detections beyond the last available frame
(counted in the manifest ``extra``) instead of raising.

Pairing is by stem (``a.slp`` ↔ ``a.mp4``; for ``a.predictions.slp`` or SLEAP's
``a.mp4.predictions.slp`` the trailing dotted parts are stripped until a video matches),
never by listing order. As a last resort a single-video ``.slp`` is paired with the video it
names internally: first among the candidate videos (by file name), then wherever that path
resolves (as stored, or relative to the ``.slp``) if the file exists. Every unpaired or
ambiguous file is collected into ONE :class:`InputDataError`.

Cost: :func:`pair_files` opens no label or video file except that each ``.slp`` has its
``videos_json`` HDF5 dataset read (a few ms) so that a multi-video ``.slp`` expands into one
pair per video (``video_id`` suffix ``__v{k}``). :func:`discover_dataset` opens everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreem.config.data import DatasetSection
from dreem.io.sources import FORMATS, TABLE_FORMATS
from dreem.io.tiff_frames import TIFF_SUFFIXES, natural_key, natural_sorted
from dreem.utils.errors import ConfigError, InputDataError

MANIFEST_COLUMNS = [
    "dataset",
    "video_id",
    "format",
    "labels_path",
    "video_path",
    "slp_video_index",
    "n_frames",
    "height",
    "width",
    "channels",
    "n_labeled_frames",
    "n_instances",
    "n_tracks",
    "labels_size",
    "labels_mtime",
    "video_size",
    "video_mtime",
    "extra",
]
TABLE_SUFFIXES = (".csv", ".xml")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SKIP_CTC_DIRS = ("_GT", "_ST", "_RES")


@dataclass
class Pair:
    """One labels↔video pair (one manifest row before counts are filled in)."""

    video_id: str
    format: str
    labels_path: Path
    video_path: Path
    slp_video_index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The fields :func:`dreem.io.sources.open_source` needs."""
        return {
            "video_id": self.video_id,
            "format": self.format,
            "labels_path": str(self.labels_path),
            "video_path": str(self.video_path),
            "slp_video_index": self.slp_video_index,
            "extra": json.dumps(self.extra, sort_keys=True),
        }


def safe_id(stem: str) -> str:
    """File stem made filesystem / wildcard safe: ``[A-Za-z0-9._-]``, others → ``_``."""
    return _UNSAFE.sub("_", stem) or "_"


def _strip_suffix(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if suffix and name.lower().endswith(suffix.lower()) else name


def _resolve(p: str | Path, base_dir: Path | None) -> Path:
    p = Path(str(p)).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p.absolute()


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [value]
    return list(value)


def _files_with_suffix(folder: Path, suffix: str) -> list[Path]:
    s = suffix.lower()
    return natural_sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(s))


# ----------------------------------------------------------------------------- public API


def pair_files(spec: Mapping | DatasetSection, base_dir: Path | None = None) -> list[Pair]:
    """Cheap globbing and stem pairing of a dataset spec (see module docstring)."""
    if isinstance(spec, DatasetSection):
        spec = spec.discovery()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"dataset spec must be a mapping, got {type(spec).__name__}")
    base = Path(base_dir) if base_dir is not None else None
    errors: list[str] = []
    if _as_list(spec.get("slp_files")):
        labels = [_resolve(p, base) for p in _as_list(spec.get("slp_files"))]
        videos = [_resolve(p, base) for p in _as_list(spec.get("video_files"))]
        pairs = _pair_sleap(labels, videos, ".slp", None, errors, explicit=True)
    elif _as_list(spec.get("raw_images")) or _as_list(spec.get("gt_images")):
        pairs = _pair_ctc_explicit(spec, base, errors)
    elif _as_list(spec.get("tracks")) or _as_list(spec.get("videos")):
        pairs = _pair_tables_explicit(spec, base, errors)
    elif spec.get("dir"):
        pairs = _pair_dir(spec, base, errors)
    else:
        raise ConfigError(
            "dataset spec needs one of 'dir', 'slp_files'+'video_files', "
            "'raw_images'+'gt_images' or 'tracks'+'videos'+'source'"
        )
    if spec.get("truncate_labels"):
        for p in pairs:
            if p.format in TABLE_FORMATS:
                p.extra["truncate_labels"] = True
    _check_ids(pairs, errors)
    if not pairs and not errors:
        errors.append(f"no labels files found for dataset spec {dict(spec)}")
    if len(errors) == 1:  # one problem: one line that starts with the file it names
        raise InputDataError(errors[0])
    if errors:
        raise InputDataError(
            f"{len(errors)} problem(s) pairing labels with videos:\n  - " + "\n  - ".join(errors)
        )
    return sorted(pairs, key=lambda p: natural_key(p.video_id))


def discover_dataset(
    name: str, spec: Mapping, base_dir: Path | None = None, progress: bool = False
):
    """Pair the files of a dataset and open each pair to build its manifest DataFrame.

    Problems of all pairs (unreadable files, labels beyond the video, duplicate tracks...)
    are collected into one :class:`InputDataError`.
    """
    import pandas as pd

    from dreem.io.sources import open_source

    try:
        pairs = pair_files(spec, base_dir)
    except ConfigError as e:
        raise ConfigError(f"datasets.{name}: {e}") from e
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, desc=f"discover {name}", unit="video")
    for pair in pairs:
        try:
            src = open_source(pair.as_row())
        except InputDataError as e:
            errors.append(str(e))
            continue
        try:
            extra = dict(pair.extra)
            for attr in ("n_dropped_nan", "n_dropped_predicted", "n_dropped_beyond"):
                if getattr(src, attr, 0):
                    extra[attr] = int(getattr(src, attr))
            lab_sig = _signature(pair.labels_path, pair.extra.get("gt_files"))
            vid_sig = _signature(
                pair.video_path, pair.extra.get("frames") or pair.extra.get("raw_files")
            )
            rows.append(
                {
                    "dataset": name,
                    "video_id": pair.video_id,
                    "format": pair.format,
                    "labels_path": str(pair.labels_path),
                    "video_path": str(pair.video_path),
                    "slp_video_index": int(pair.slp_video_index),
                    "n_frames": int(src.n_frames),
                    "height": int(src.height),
                    "width": int(src.width),
                    "channels": int(src.channels),
                    "n_labeled_frames": int(src.n_labeled_frames),
                    "n_instances": int(src.n_instances),
                    "n_tracks": int(getattr(src, "n_tracks", len(src.track_names))),
                    "labels_size": int(lab_sig["size"]),
                    "labels_mtime": float(lab_sig["mtime"]),
                    "video_size": int(vid_sig["size"]),
                    "video_mtime": float(vid_sig["mtime"]),
                    "extra": json.dumps(extra, sort_keys=True),
                }
            )
        finally:
            src.close()
    if len(errors) == 1:  # one problem: one line that starts with the file it names
        raise InputDataError(f"{errors[0]} (dataset {name!r})")
    if errors:
        raise InputDataError(
            f"dataset {name!r}: {len(errors)} input file problem(s):\n  - " + "\n  - ".join(errors)
        )
    df = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return df.astype(
        {
            c: "int64"
            for c in MANIFEST_COLUMNS
            if c.startswith("n_") or c in ("height", "width", "channels", "slp_video_index")
        }
        | {"labels_size": "int64", "video_size": "int64"}
    )


def _signature(path: Path, files: list[str] | None) -> dict[str, float]:
    """Size/mtime of a file or folder, or of an explicit file list."""
    from dreem.io.shards import file_signature

    if not files:
        return file_signature(path)
    sigs = [file_signature(f) for f in files]
    return {"size": sum(s["size"] for s in sigs), "mtime": max(s["mtime"] for s in sigs)}


def write_manifest(df, path: str | Path) -> Path:
    """Write ``df`` atomically to ``path`` (Parquet) and a ``.csv`` next to it.

    ``path`` must be a ``.parquet`` file name (a ``.csv`` name would be overwritten by the
    CSV copy; a folder is not a file name): anything else is an error before writing.
    """
    from dreem.utils.atomic import atomic_group

    path = check_manifest_path(path)
    with atomic_group() as stage:  # both or neither; the Parquet manifest last
        df.to_csv(stage(path.with_suffix(".csv")), index=False)
        df.to_parquet(stage(path), index=False)
    return path


def check_manifest_path(path: str | Path) -> Path:
    """``path`` if a manifest can be written there (a ``.parquet`` name, not a folder)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{path}: is a folder; give the manifest's file name, e.g. {path / 'manifest.parquet'}"
        )
    if path.suffix.lower() != ".parquet":
        raise ConfigError(
            f"{path}: a manifest is a Parquet file: give a .parquet name, e.g. "
            f"{path.with_suffix('.parquet')} (a .csv copy is written beside it)"
        )
    return path


def read_manifest(path: str | Path):
    """Read a manifest written by :func:`write_manifest`; anything else is an error naming
    the file (a folder, a labels file, a CSV, another Parquet table)."""
    import pandas as pd

    path = Path(path)
    hint = "run `dreem discover DATA_DIR -o manifest.parquet` first and pass that file"
    if not path.exists():
        raise InputDataError(f"manifest not found: {path}")
    if path.is_dir():
        raise InputDataError(f"{path}: is a folder, not a manifest; {hint}")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PAR1":
        raise InputDataError(
            f"{path}: not a manifest (the Parquet file `dreem discover` writes); {hint}"
        )
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{path}: cannot read the manifest ({exc})") from exc
    missing = [c for c in ("video_id", "format", "labels_path", "video_path") if c not in df]
    if missing:
        raise InputDataError(
            f"{path}: not a dreem manifest (no column {', '.join(missing)}); {hint}"
        )
    return df


def manifest_rows(df) -> list[dict[str, Any]]:
    """Manifest rows as plain dicts (what :func:`open_source` takes)."""
    return df.to_dict(orient="records")


# ----------------------------------------------------------------------------- SLEAP


def _label_keys(stem: str) -> list[str]:
    """``a.mp4.predictions`` → [``a.mp4.predictions``, ``a.mp4``, ``a``]."""
    keys = [stem]
    while "." in stem:
        stem = stem.rsplit(".", 1)[0]
        if stem:
            keys.append(stem)
    return keys


def _pair_sleap(
    labels: list[Path],
    videos: list[Path],
    labels_suffix: str,
    vid_suffix: str | None,
    errors: list[str],
    explicit: bool = False,
) -> list[Pair]:
    from dreem.io.slp import resolve_slp_video, slp_video_filenames

    for p in labels + videos:
        if not p.exists():
            errors.append(f"file not found: {p}")
    labels = [p for p in labels if p.exists()]
    videos = [p for p in videos if p.exists()]

    def vstem(v: Path) -> str:
        return _strip_suffix(v.name, vid_suffix) if vid_suffix else v.stem

    by_stem: dict[str, list[Path]] = {}
    by_name: dict[str, list[Path]] = {}
    for v in videos:
        by_stem.setdefault(vstem(v), []).append(v)
        by_name.setdefault(v.name, []).append(v)
    for stem, vs in by_stem.items():
        if len(vs) > 1:
            errors.append(f"ambiguous video stem {stem!r}: {', '.join(map(str, vs))}")
    used: set[Path] = set()
    pairs: list[Pair] = []
    unpaired_labels: list[Path] = []
    for lab in labels:
        stem = _strip_suffix(lab.name, labels_suffix) if labels_suffix else lab.stem
        try:
            embedded = slp_video_filenames(lab)
        except InputDataError as e:
            errors.append(str(e))
            continue
        if len(embedded) == 0:
            errors.append(f"{lab}: the .slp file references no video")
            continue
        if len(embedded) > 1:
            for k, fname in enumerate(embedded):
                base = Path(fname.replace("\\", "/")).name
                cands = by_name.get(base, [])
                vid = cands[0] if len(cands) == 1 else resolve_slp_video(lab, fname)
                if vid is None:
                    errors.append(f"{lab}: video {k} {fname!r} not found (looked next to the .slp)")
                    continue
                used.add(vid)
                pairs.append(Pair(f"{safe_id(stem)}__v{k}", "slp", lab, vid, k))
            continue
        match: tuple[str, Path] | None = None
        for key in _label_keys(stem):
            cands = by_stem.get(key) or by_name.get(key)
            if cands and len(cands) == 1:
                match = (key, cands[0])
                break
            if cands:
                break  # ambiguous: already reported
        if match is None and explicit and len(labels) == 1 and len(videos) == 1:
            match = (stem, videos[0])
        if match is None:
            base = Path(embedded[0].replace("\\", "/")).name
            cands = by_name.get(base, [])
            if len(cands) == 1:
                match = (stem, cands[0])
            else:  # the video the .slp names, if it exists (outside the listed folders)
                vid = resolve_slp_video(lab, embedded[0])
                if vid is not None and (
                    not vid_suffix or vid.name.lower().endswith(vid_suffix.lower())
                ):
                    match = (stem, vid.absolute())
        if match is None:
            unpaired_labels.append(lab)
            continue
        used.add(match[1])
        pairs.append(Pair(safe_id(match[0]), "slp", lab, match[1], 0))
    for lab in unpaired_labels:
        errors.append(f"labels file without a matching video (by stem): {lab}")
    for v in videos:
        if v not in used:
            errors.append(f"video without a matching labels file (by stem): {v}")
    return pairs


# ----------------------------------------------------------------------------- CTC


def _ctc_pairs_in_dir(folder: Path, errors: list[str]) -> list[Pair]:
    pairs = []
    subdirs = natural_sorted(p for p in folder.iterdir() if p.is_dir())
    names = {p.name for p in subdirs}
    for gt in subdirs:
        if not gt.name.endswith("_GT"):
            continue
        seq = gt.name[: -len("_GT")]
        tra = gt / "TRA"
        raw = folder / seq
        if not tra.is_dir():
            errors.append(f"CTC ground-truth folder without a TRA subfolder: {gt}")
            continue
        if seq not in names:
            errors.append(f"CTC masks without a raw image folder {raw}: {tra}")
            continue
        extra: dict[str, Any] = {}
        if (tra / "man_track.txt").exists():
            extra["man_track"] = str(tra / "man_track.txt")
        pairs.append(Pair(safe_id(seq), "ctc", tra, raw, 0, extra))
    for d in subdirs:
        if d.name.endswith(_SKIP_CTC_DIRS) or f"{d.name}_GT" in names:
            continue
        if any(f.suffix.lower() in TIFF_SUFFIXES for f in d.iterdir() if f.is_file()):
            errors.append(f"CTC raw image folder without {d.name}_GT/TRA masks: {d}")
    return pairs


def _is_ctc_dir(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.is_dir() and p.name.endswith("_GT") and (p / "TRA").is_dir() for p in folder.iterdir()
    )


def _dir_or_files(
    value: Any, base: Path | None, key: str, extra_key: str, extra: dict, errors: list[str]
) -> Path | None:
    """A folder given as one path, or a file list (kept in ``extra[extra_key]``; its folder
    is returned). An empty list is an error (None)."""
    if isinstance(value, (str, Path)):
        return _resolve(value, base)
    files = [_resolve(f, base) for f in value]
    if not files:
        errors.append(f"{key} is an empty list")
        return None
    extra[extra_key] = [str(f) for f in files]
    return files[0].parent


def _pair_ctc_explicit(spec: Mapping, base: Path | None, errors: list[str]) -> list[Pair]:
    raws = _as_list(spec.get("raw_images"))
    gts = _as_list(spec.get("gt_images"))
    metas = _as_list(spec.get("ctc_track_meta")) or _as_list(spec.get("gt_list"))
    if len(raws) != len(gts):
        raise ConfigError(
            f"raw_images has {len(raws)} entries but gt_images has {len(gts)}; "
            "they pair by position"
        )
    if metas and len(metas) != len(raws):
        raise ConfigError(f"ctc_track_meta has {len(metas)} entries but raw_images has {len(raws)}")
    pairs = []
    for i, (raw, gt) in enumerate(zip(raws, gts, strict=True)):
        extra: dict[str, Any] = {}
        raw_path = _dir_or_files(raw, base, f"raw_images[{i}]", "raw_files", extra, errors)
        gt_path = _dir_or_files(gt, base, f"gt_images[{i}]", "gt_files", extra, errors)
        if raw_path is None or gt_path is None:
            continue
        if isinstance(gt, (str, Path)) and gt_path.is_dir() and (gt_path / "TRA").is_dir():
            gt_path = gt_path / "TRA"
        for p in (
            [raw_path, gt_path]
            + [Path(f) for f in extra.get("raw_files", [])]
            + [Path(f) for f in extra.get("gt_files", [])]
        ):
            if not p.exists():
                errors.append(f"file not found: {p}")
        if metas and metas[i]:
            extra["man_track"] = str(_resolve(metas[i], base))
        elif gt_path.is_dir() and (gt_path / "man_track.txt").exists():
            extra["man_track"] = str(gt_path / "man_track.txt")
        pairs.append(Pair(safe_id(raw_path.name), "ctc", gt_path, raw_path, 0, extra))
    return pairs


# ----------------------------------------------------------------------------- tables


def _check_source(spec: Mapping) -> str:
    source = spec.get("source")
    if source is None:
        raise ConfigError(
            f"'source' is required for centroid tables; one of {', '.join(TABLE_FORMATS)}"
        )
    source = str(source).lower()
    if source not in TABLE_FORMATS:
        raise ConfigError(
            f"source: {spec.get('source')!r} is not a known label source; valid sources are "
            f"{', '.join(TABLE_FORMATS)}"
        )
    return source


def _pair_tables_explicit(spec: Mapping, base: Path | None, errors: list[str]) -> list[Pair]:
    source = _check_source(spec)
    tracks = [_resolve(t, base) for t in _as_list(spec.get("tracks"))]
    videos = _as_list(spec.get("videos"))
    if len(tracks) != len(videos):
        raise ConfigError(
            f"tracks has {len(tracks)} entries but videos has {len(videos)}; they pair by position"
        )
    pairs = []
    for t, v in zip(tracks, videos, strict=True):
        extra: dict[str, Any] = {}
        if isinstance(v, (str, Path)):
            vpath = _resolve(v, base)
            if not vpath.exists():
                errors.append(f"file not found: {vpath}")
        else:
            files = [_resolve(f, base) for f in v]
            missing = [f for f in files if not f.exists()]
            errors.extend(f"file not found: {f}" for f in missing)
            if not files:
                errors.append(f"empty frame list for {t}")
                continue
            extra["frames"] = [str(f) for f in files]
            vpath = files[0].parent
        if not t.exists():
            errors.append(f"file not found: {t}")
        pairs.append(Pair(safe_id(t.stem), source, t, vpath, 0, extra))
    return pairs


def _pair_tables_in_dir(
    folder: Path, labels_suffix: str, vid_suffix: str, source: str, errors: list[str]
) -> tuple[list[Pair], set[Path], list[Path]]:
    """Tables of one folder paired with a same-stem stack, same-name folder, or frames
    named ``<stem><sep>...``; returns (pairs, used video files, candidate video files)."""
    labels = _files_with_suffix(folder, labels_suffix)
    vids = _files_with_suffix(folder, vid_suffix) if vid_suffix else []
    vids = [v for v in vids if v not in labels]
    used: set[Path] = set()
    pairs = []
    # longest stems first, so "a b.xml" claims "a b t0.tif" before "a.xml" could
    for lab in sorted(labels, key=lambda p: -len(p.name)):
        stem = _strip_suffix(lab.name, labels_suffix)
        stack = [v for v in vids if _strip_suffix(v.name, vid_suffix) == stem]
        if stack:
            used.add(stack[0])
            pairs.append(Pair(safe_id(stem), source, lab, stack[0]))
            continue
        if (folder / stem).is_dir():
            pairs.append(Pair(safe_id(stem), source, lab, folder / stem))
            continue
        frames = [
            v
            for v in vids
            if v not in used
            and v.name.startswith(stem)
            and v.name[len(stem) : len(stem) + 1] in (" ", "_", "-", ".")
        ]
        if frames:
            used.update(frames)
            pairs.append(
                Pair(safe_id(stem), source, lab, folder, 0, {"frames": [str(f) for f in frames]})
            )
            continue
        errors.append(f"labels file without a matching video (by stem): {lab}")
    return pairs, used, vids


# ----------------------------------------------------------------------------- dir


def _pair_dir(spec: Mapping, base: Path | None, errors: list[str]) -> list[Pair]:
    d = spec["dir"]
    if not isinstance(d, Mapping):
        raise ConfigError(f"dir must be a mapping with path/labels_suffix/vid_suffix, got {d!r}")
    if d.get("path") in (None, "", []):
        raise ConfigError("dir.path is required")
    folders = [_resolve(p, base) for p in _as_list(d["path"])]
    labels_suffix = str(d.get("labels_suffix") or "")
    vid_suffix = str(d.get("vid_suffix") or "")
    missing = [f for f in folders if not f.is_dir()]
    for f in missing:
        errors.append(f"dir.path folder not found: {f}")
    folders = [f for f in folders if f.is_dir()]
    ls = labels_suffix.lower()
    if ls.endswith(TIFF_SUFFIXES) or (not ls and any(_is_ctc_dir(f) for f in folders)):
        return [p for f in folders for p in _ctc_pairs_in_dir(f, errors)]
    if ls.endswith(".slp"):
        if not vid_suffix:
            raise ConfigError("dir.vid_suffix is required for .slp labels (e.g. '.mp4')")
        labels = [p for f in folders for p in _files_with_suffix(f, labels_suffix)]
        videos = [p for f in folders for p in _files_with_suffix(f, vid_suffix)]
        return _pair_sleap(labels, videos, labels_suffix, vid_suffix, errors)
    if ls.endswith(TABLE_SUFFIXES):
        source = _check_source(spec)
        pairs, used, cands = [], set(), []
        for f in folders:
            p, u, c = _pair_tables_in_dir(f, labels_suffix, vid_suffix, source, errors)
            pairs += p
            used |= u
            cands += c
        for v in cands:
            if v not in used:
                errors.append(f"video without a matching labels file (by stem): {v}")
        return pairs
    if not labels_suffix:
        raise ConfigError("dir.labels_suffix is required (e.g. '.slp', '.tif', '.csv', '.xml')")
    raise ConfigError(
        f"dir.labels_suffix {labels_suffix!r} is not supported; use .slp (SLEAP), .tif/.tiff "
        f"(Cell Tracking Challenge) or .csv/.xml (tables with source: "
        f"{'/'.join(TABLE_FORMATS)}); formats: {', '.join(FORMATS)}"
    )


def _check_ids(pairs: Sequence[Pair], errors: list[str]) -> None:
    seen: dict[str, Pair] = {}
    for p in pairs:
        if p.video_id in seen:
            q = seen[p.video_id]
            errors.append(
                f"duplicate video_id {p.video_id!r} (ambiguous stems): {q.labels_path} "
                f"[{q.video_path}] and {p.labels_path} [{p.video_path}]"
            )
        else:
            seen[p.video_id] = p
