"""Command-line options shared by ``dreem train|track|eval``, including the reference
DREEM CLI's flags (``--checkpoint/-ckpt``, ``--crop-size/-cs``, ``--max-tracks/-mx``, ...),
and how each maps onto our config (docs/migration.md has the table).

Every flag is optional and, when given, becomes a config override of one key; nothing is
set when a flag is left out (the reference's non-None flag defaults silently overrode
``--config`` values; here the config's own value stays).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dreem.utils.errors import ConfigError

Opt = typer.Option

# ----------------------------------------------------------------------------- shared
Checkpoint = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional
    Opt("--checkpoint", "-ckpt", help="Trained model (.ckpt); as the reference CLI."),
]
Config = Annotated[
    Optional[Path],  # noqa: UP045
    Opt("--config", "-c", help="DREEM config (track/eval: its tracker section is used)."),
]
Device = Annotated[
    str,
    Opt(
        "--device",
        "-d",
        help="auto (GPU when visible) | cpu | gpu | cuda:N. Train: trainer.accelerator.",
    ),
]
Quiet = Annotated[bool, Opt("--quiet", "-q", help="No progress bars or summaries.")]
Verbose = Annotated[bool, Opt("--verbose", help="INFO logging.")]
VideoType = Annotated[
    Optional[str],  # noqa: UP045
    Opt("--video-type", "-vt", help="Video extension (mp4, avi, tif); default: guessed."),
]
CropSize = Annotated[
    Optional[int],  # noqa: UP045
    Opt("--crop-size", "-cs", help="Crop size in pixels (default: the model's/config's)."),
]
Anchor = Annotated[
    Optional[str],  # noqa: UP045
    Opt("--anchor", "-a", help="Anchor node(s), comma separated, or 'centroid'."),
]
Mlflow = Annotated[bool, Opt("--mlflow/--no-mlflow", help="Record in MLflow (<out>/mlflow.db).")]

# ----------------------------------------------------------------------------- track / eval
SlpFiles = Annotated[
    Optional[list[Path]],  # noqa: UP045
    Opt("--slp-file", "-slp", help="A .slp to track (repeatable; with --video-file)."),
]
VideoFiles = Annotated[
    Optional[list[Path]],  # noqa: UP045
    Opt("--video-file", "-vid", help="Its video (repeatable, same order as --slp-file)."),
]
ClipLength = Annotated[
    Optional[int],  # noqa: UP045
    Opt("--clip-length", "-cl", help="Frames per clip (tracker.clip_length; train: dataset)."),
]
Render = Annotated[bool, Opt("--render", "-R", help="Also render each tracked video (mp4).")]
OptFloat = Optional[float]  # noqa: UP045
OptInt = Optional[int]  # noqa: UP045

# flag name → (tracker key, help)
TRACKER_FLAGS: dict[str, tuple[str, str]] = {
    "confidence_threshold": ("confidence_threshold", "flag frames below this confidence"),
    "iou_mode": ("iou", "mult | max: IoU weighting of association"),
    "max_dist": ("max_center_dist", "max centroid distance (px) for a match"),
    "max_dist_multiplier": ("distance_penalty_multiplier", "weight of the distance penalty"),
    "max_gap": ("max_gap", "frames a track may be missing before it ends"),
    "overlap_thresh": ("overlap_thresh", "trajectory overlap threshold"),
    "mult_thresh": ("mult_thresh", "compare the per-appearance mean (true) or the sum"),
    "max_angle": ("max_angle_diff", "max heading change (degrees)"),
    "max_tracks": ("max_tracks", "maximum number of track ids"),
    "front_node": ("front_nodes", "node marking the front (repeatable)"),
    "back_node": ("back_nodes", "node marking the back (repeatable)"),
    "clip_length": ("clip_length", "frames per clip"),
}
ConfThresh = Annotated[OptFloat, Opt("--confidence-threshold", "-conf")]
IouMode = Annotated[Optional[str], Opt("--iou-mode", "-iou", help="mult | max")]  # noqa: UP045
MaxDist = Annotated[OptFloat, Opt("--max-dist", "-md", help="tracker.max_center_dist (px)")]
MaxDistMult = Annotated[OptFloat, Opt("--max-dist-multiplier", "-mdm")]
MaxGap = Annotated[OptInt, Opt("--max-gap", "-mg", help="tracker.max_gap (frames)")]
OverlapThresh = Annotated[OptFloat, Opt("--overlap-thresh", "-ot")]
MultThresh = Annotated[
    Optional[bool],  # noqa: UP045
    Opt("--mult-thresh/--no-mult-thresh", "-mt", help="tracker.mult_thresh"),
]
MaxAngle = Annotated[OptFloat, Opt("--max-angle", "-ma", help="tracker.max_angle_diff (deg)")]
MaxTracks = Annotated[OptInt, Opt("--max-tracks", "-mx", help="tracker.max_tracks")]
FrontNode = Annotated[Optional[list[str]], Opt("--front-node", "-fn")]  # noqa: UP045
BackNode = Annotated[Optional[list[str]], Opt("--back-node", "-bn")]  # noqa: UP045
DilationRadius = Annotated[
    OptInt, Opt("--dilation-radius", "-dr", help="dataset dilation_radius_px")
]
MaxDetOverlap = Annotated[
    OptFloat, Opt("--max-detection-overlap", "-di", help="dataset max_detection_overlap")
]

# ----------------------------------------------------------------------------- train
ValDir = Annotated[
    Optional[Path],  # noqa: UP045
    Opt("--val-dir", "-vd", help="Validation data directory (with TRAIN_DIR)."),
]
Epochs = Annotated[OptInt, Opt("--epochs", "-e", help="trainer.max_epochs")]
Lr = Annotated[OptFloat, Opt("--lr", help="optimizer.lr")]
DModel = Annotated[OptInt, Opt("--d-model", help="model.d_model")]
NHead = Annotated[OptInt, Opt("--nhead", help="model.nhead")]
EncoderLayers = Annotated[OptInt, Opt("--encoder-layers", help="model.num_encoder_layers")]
DecoderLayers = Annotated[OptInt, Opt("--decoder-layers", help="model.num_decoder_layers")]
Logger = Annotated[
    Optional[str],  # noqa: UP045
    Opt("--logger", "-l", help="logging.logger_type (CSVLogger, TensorBoardLogger, ...)"),
]
RunName = Annotated[
    Optional[str],  # noqa: UP045
    Opt("--run-name", "-rn", "--name", help="Model name (default: the config's stem)."),
]


def tracker_overrides(**flags: Any) -> list[str]:
    """``tracker.key=value`` overrides for the tracker flags that were given."""
    out = []
    for flag, value in flags.items():
        if value is None or value == []:
            continue
        key = TRACKER_FLAGS[flag][0]
        out.append(f"tracker.{key}={_yaml(value)}")
    return out


def _yaml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    return str(value)


def crop_keys(
    crop_size: int | None = None,
    anchor: str | None = None,
    dilation_radius: int | None = None,
    max_detection_overlap: float | None = None,
) -> dict[str, Any]:
    """Dataset keys for the crop flags that were given."""
    from dreem.stages import parse_anchors

    keys: dict[str, Any] = {}
    if crop_size is not None:
        keys["crop_size"] = crop_size
    if anchor is not None:
        keys["anchors"] = parse_anchors(anchor)
    if dilation_radius is not None:
        keys["dilation_radius_px"] = dilation_radius
    if max_detection_overlap is not None:
        keys["max_detection_overlap"] = max_detection_overlap
    return keys


def suffixes(video_type: str | None) -> dict[str, str]:
    """``--video-type``: the video suffix, and ``.tif`` labels for TIFF data (as the
    reference); empty when not given (suffixes are guessed from the files)."""
    if not video_type:
        return {}
    vt = video_type if video_type.startswith(".") else f".{video_type}"
    return {"vid_suffix": vt, "labels_suffix": ".tif" if "tif" in vt else ".slp"}


def train_overrides(
    epochs: int | None = None,
    lr: float | None = None,
    d_model: int | None = None,
    nhead: int | None = None,
    encoder_layers: int | None = None,
    decoder_layers: int | None = None,
    clip_length: int | None = None,
    logger: str | None = None,
    device: str | None = None,
) -> list[str]:
    """DREEM config overrides for the training flags that were given."""
    from dreem.utils.device import accelerator

    pairs: Mapping[str, Any] = {
        "trainer.max_epochs": epochs,
        "optimizer.lr": lr,
        "model.d_model": d_model,
        "model.nhead": nhead,
        "model.num_encoder_layers": encoder_layers,
        "model.num_decoder_layers": decoder_layers,
        "dataset.train_dataset.clip_length": clip_length,
        "logging.logger_type": logger,
        "trainer.accelerator": accelerator(device) if device not in (None, "auto") else None,
    }
    return [f"{k}={_yaml(v)}" for k, v in pairs.items() if v is not None]


def setup_logging(quiet: bool, verbose: bool) -> None:
    """WARNING by default, INFO with ``--verbose``, ERROR with ``--quiet``."""
    import logging

    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def model_and_data(
    args: list[str], checkpoint: str | None, has_files: bool, eval_models=()
) -> tuple[list[str], Path | None]:
    """The models and the data directory of ``track``/``eval`` positional arguments."""
    models = list(eval_models) + ([checkpoint] if checkpoint else [])
    rest = list(args)
    if not eval_models and not checkpoint and rest and (len(rest) == 2 or has_files):
        models.append(rest.pop(0))  # our shape: MODEL DATA
    if not models:
        raise ConfigError("no model: give MODEL DATA, or DATA --checkpoint MODEL (or -m MODEL)")
    if len(rest) > 1:
        raise ConfigError(f"unexpected arguments {rest[1:]}: give one data directory")
    if not rest and not has_files:
        raise ConfigError("no data: give a data directory, or --slp-file/--video-file")
    return models, Path(rest[0]) if rest else None


def files(slp_file, video_file) -> dict | None:
    if not slp_file:
        if video_file:
            raise ConfigError("--video-file needs --slp-file (one .slp per video)")
        return None
    return {
        "slp_files": [str(p) for p in slp_file],
        "video_files": [str(p) for p in video_file or []],
    }


def tracker_sets(given: dict, overrides) -> list[str]:
    """``tracker.*`` overrides from the reference tracker flags, then ``--set`` ones."""
    flags = {k: given.get(k) for k in TRACKER_FLAGS}
    return [*tracker_overrides(**flags), *(overrides or [])]
