"""The ``dreem`` command line: every pipeline stage, usable without Snakemake.

Imports of the heavy stack (torch, lightning, sleap-io) happen inside the commands, so
``dreem --help`` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dreem import __version__
from dreem import cli_options as o
from dreem.utils.errors import DreemError

app = typer.Typer(
    name="dreem",
    help="Train Global Tracking Transformers and track animals and cells.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect and validate configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")

SetOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional here
    typer.Option("--set", "-s", help="Override a config value: section.key=value (repeatable)."),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dreem {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", "-v", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """dreem-pipeline command line."""


def _dataset_spec(
    path: Path, labels_suffix: str | None, vid_suffix: str | None, source: str | None
) -> dict:
    """A DREEM dataset spec for a directory, guessing suffixes from its contents."""
    from dreem.stages import guess_dir_spec

    return guess_dir_spec(path, labels_suffix=labels_suffix, vid_suffix=vid_suffix, source=source)


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the demo data into.")],
    seed: Annotated[int, typer.Option(help="Seed: same seed, same data.")] = 0,
    identity: Annotated[
        bool,
        typer.Option(
            "--identity",
            help="Write the identity benchmark instead: train/val pools + hard test clips.",
        ),
    ] = False,
) -> None:
    """Generate the synthetic demo data (animals as .slp+.mp4, cells in CTC layout)."""
    if identity:
        from dreem.synth import generate_identity_benchmark

        info = generate_identity_benchmark(out_dir, seed=seed, progress=True)
        info = {k: info[k] for k in ("seed", "spec_hash", "seconds")}
    else:
        from dreem.synth import generate_demo

        info = generate_demo(out_dir, seed=seed, progress=True)
    typer.echo(json.dumps(info, indent=2, default=str))


@app.command()
def discover(
    path: Annotated[Path, typer.Argument(help="Data directory.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Manifest (.parquet) to write.")],
    name: Annotated[str, typer.Option(help="Dataset name.")] = "dataset",
    labels_suffix: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    vid_suffix: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    source: Annotated[Optional[str], typer.Option(help="trackmate|isbi|icy")] = None,  # noqa: UP045
) -> None:
    """Pair labels and videos by file stem and write a manifest."""
    from dreem.io.discover import check_manifest_path, discover_dataset, write_manifest

    check_manifest_path(out)  # before the (slow) discovery
    spec = _dataset_spec(path, labels_suffix, vid_suffix, source)
    df = discover_dataset(name, spec)
    write_manifest(df, out)
    typer.echo(f"{len(df)} labels/video pairs -> {out}")


@app.command()
def extract(
    manifest: Annotated[Path, typer.Argument(help="Manifest written by `dreem discover`.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the crop shards.")],
    crop_size: Annotated[Optional[int], typer.Option(help="Default: 128.")] = None,  # noqa: UP045
    padding: Annotated[Optional[int], typer.Option(help="Default: 0.")] = None,  # noqa: UP045
    anchors: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Node name(s), comma separated, or an int (default: centroid)."),
    ] = None,
    handle_missing: Annotated[
        Optional[str], typer.Option(help="drop|ignore|centroid (default: centroid)")  # noqa: UP045
    ] = None,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="DREEM config whose dataset.train_dataset crop keys to use."),
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Cut crops around each instance's anchor(s) into one Parquet shard per video."""
    from dreem.stages import extract_manifest

    given = {"crop_size": crop_size, "padding": padding, "handle_missing": handle_missing}
    if anchors is not None:
        from dreem.stages import parse_anchors

        given["anchors"] = parse_anchors(anchors)
    paths = extract_manifest(
        manifest,
        {k: v for k, v in given.items() if v is not None},
        out_dir,
        config=config,
        seed=seed,
    )
    typer.echo(f"{len(paths)} shards -> {out_dir}")


@app.command()
def train(
    source: Annotated[
        Path,
        typer.Argument(
            help="A DREEM config (.yaml) whose dataset sections name the data, or a training "
            "data directory (the reference shape: TRAIN_DIR --val-dir DIR).",
        ),
    ],
    out_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", "--output", "-o", help="Output folder (default: models/NAME)."),
    ] = None,
    overrides: SetOpt = None,
    name: o.RunName = None,
    config: o.Config = None,
    val_dir: o.ValDir = None,
    crop_size: o.CropSize = None,
    anchor: o.Anchor = None,
    video_type: o.VideoType = None,
    epochs: o.Epochs = None,
    lr: o.Lr = None,
    d_model: o.DModel = None,
    nhead: o.NHead = None,
    encoder_layers: o.EncoderLayers = None,
    decoder_layers: o.DecoderLayers = None,
    clip_length: o.ClipLength = None,
    logger: o.Logger = None,
    device: o.Device = "auto",
    mlflow: o.Mlflow = True,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Train a model: from a DREEM config's dataset sections, or from data directories."""
    from dreem.pipeline.mlflow_log import closed_on_error, open_record, settings
    from dreem.stages import train_dirs_plan_config, train_from_config, train_plan_config

    o.setup_logging(quiet, verbose)
    flags = o.train_overrides(
        epochs, lr, d_model, nhead, encoder_layers, decoder_layers, clip_length, logger, device
    )
    sets = [*flags, *(overrides or [])]
    crops = o.crop_keys(crop_size, anchor)
    if not source.is_dir() and (val_dir is not None or crops or video_type or config is not None):
        raise DreemError(
            "--val-dir, --crop-size, --anchor, --video-type and --config go with a data "
            f"directory (dreem train TRAIN_DIR ...); {source} is a config file: set "
            "those keys in it or with --set"
        )
    if source.is_dir():
        model = name or (config.stem if config is not None else "dreem_train")
    else:
        model = name or source.stem
    out_dir = out_dir or Path("models") / model
    # MLflow starts up in its own process while the config is checked and crops extracted
    record = open_record(settings(out_dir, {"enabled": mlflow}))
    with closed_on_error(record):
        if source.is_dir():
            cfg = train_dirs_plan_config(
                source, val_dir, out_dir, config, sets, model, crops, o.suffixes(video_type), mlflow
            )
        else:
            cfg = train_plan_config(source, out_dir, sets, model, mlflow)
    result = train_from_config(cfg, out_dir, progress=not quiet, record=record)
    if result.get("rank", 0) != 0:  # DDP: the main process reports
        return
    if not quiet:
        typer.echo(json.dumps(result, indent=2, default=str))
    typer.echo(f"model: {result['link']} -> {result['checkpoint']}")


@app.command()
def track(
    out_dir: Annotated[Path, typer.Option("--out", "--output", "-o", help="Output folder.")],
    args: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="MODEL DATA, or DATA with --checkpoint (the reference shape). MODEL: a .ckpt, "
            "'baseline' or 'baseline:motion'; DATA: a data directory or a crop shard."
        ),
    ] = None,
    checkpoint: o.Checkpoint = None,
    config: o.Config = None,
    overrides: SetOpt = None,
    slp_file: o.SlpFiles = None,
    video_file: o.VideoFiles = None,
    video_type: o.VideoType = None,
    crop_size: o.CropSize = None,
    anchor: o.Anchor = None,
    dilation_radius: o.DilationRadius = None,
    max_detection_overlap: o.MaxDetOverlap = None,
    clip_length: o.ClipLength = None,
    confidence_threshold: o.ConfThresh = None,
    iou_mode: o.IouMode = None,
    max_dist: o.MaxDist = None,
    max_dist_multiplier: o.MaxDistMult = None,
    max_gap: o.MaxGap = None,
    overlap_thresh: o.OverlapThresh = None,
    mult_thresh: o.MultThresh = None,
    max_angle: o.MaxAngle = None,
    max_tracks: o.MaxTracks = None,
    front_node: o.FrontNode = None,
    back_node: o.BackNode = None,
    device: o.Device = "auto",
    render: o.Render = False,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Track every video of a directory, of --slp-file/--video-file or of a crop shard;
    write .slp/CTC _RES + tables (and mp4s with --render)."""
    from dreem.stages import track_data

    o.setup_logging(quiet, verbose)
    models, data = o.model_and_data(args or [], checkpoint, bool(slp_file))
    (model,) = models
    sets = o.tracker_sets(locals(), overrides)
    outputs = track_data(
        model,
        data,
        out_dir,
        config,
        sets,
        o.crop_keys(crop_size, anchor, dilation_radius, max_detection_overlap),
        progress=not quiet,
        files=o.files(slp_file, video_file),
        suffixes=o.suffixes(video_type),
        device=device,
        render=render,
    )
    typer.echo(f"{len(outputs)} videos tracked -> {out_dir}")


@app.command("eval")
def evaluate(
    out_dir: Annotated[Path, typer.Option("--out", "--output", "-o", help="Output folder.")],
    args: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="Data directory with ground-truth tracks."),
    ] = None,
    model: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--model", "-m", help="Checkpoint, 'baseline[:motion]' or name=checkpoint (repeatable)."
        ),
    ] = None,
    checkpoint: o.Checkpoint = None,
    config: o.Config = None,
    overrides: SetOpt = None,
    gt: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Ground-truth directory (same video stems): detection-level eval."),
    ] = None,
    match: Annotated[str, typer.Option(help="centroid|iou (with --gt)")] = "centroid",
    threshold: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Match threshold: pixels (centroid, default 10) or IoU (0.5)."),
    ] = None,
    slp_file: o.SlpFiles = None,
    video_file: o.VideoFiles = None,
    video_type: o.VideoType = None,
    crop_size: o.CropSize = None,
    anchor: o.Anchor = None,
    dilation_radius: o.DilationRadius = None,
    max_detection_overlap: o.MaxDetOverlap = None,
    clip_length: o.ClipLength = None,
    confidence_threshold: o.ConfThresh = None,
    iou_mode: o.IouMode = None,
    max_dist: o.MaxDist = None,
    max_dist_multiplier: o.MaxDistMult = None,
    max_gap: o.MaxGap = None,
    overlap_thresh: o.OverlapThresh = None,
    mult_thresh: o.MultThresh = None,
    max_angle: o.MaxAngle = None,
    max_tracks: o.MaxTracks = None,
    front_node: o.FrontNode = None,
    back_node: o.BackNode = None,
    device: o.Device = "auto",
    render: o.Render = False,
    mlflow: o.Mlflow = True,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Track and evaluate one or more models on a directory; write a summary table, figure
    and HTML report (and record the evaluation in MLflow)."""
    from dreem.stages import eval_directory

    o.setup_logging(quiet, verbose)
    models, data = o.model_and_data(args or [], checkpoint, bool(slp_file), model or ())
    summary = eval_directory(
        models,
        data,
        out_dir,
        config,
        o.tracker_sets(locals(), overrides),
        gt=gt,
        match=match,
        threshold=threshold,
        dataset_keys=o.crop_keys(crop_size, anchor, dilation_radius, max_detection_overlap),
        progress=not quiet,
        files=o.files(slp_file, video_file),
        suffixes=o.suffixes(video_type),
        device=device,
        render=render,
        mlflow=mlflow,
    )
    if not quiet:
        typer.echo(summary.to_string(index=False))
    typer.echo(f"report: {out_dir / 'summary' / 'report.html'}")


@app.command()
def render(
    tracks: Annotated[Path, typer.Argument(help="Tracks table (.parquet/.csv).")],
    video: Annotated[Path, typer.Argument(help="Video file or folder of frames.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .mp4.")],
    max_frames: Annotated[Optional[int], typer.Option()] = None,  # noqa: UP045
) -> None:
    """Render tracks (boxes, IDs, trails) over the video to an mp4."""
    from dreem.evaluation.render import render_tracks

    render_tracks(tracks, video, out, max_frames=max_frames)
    typer.echo(f"-> {out}")


@config_app.command("validate")
def config_validate(
    path: Annotated[Path, typer.Argument(help="DREEM config or pipeline config (YAML).")],
    overrides: SetOpt = None,
) -> None:
    """Validate a config; print every problem with its full key path."""
    from dreem.stages import validate_any_config

    kind = validate_any_config(path, overrides or [])
    typer.echo(f"{path}: valid {kind} config")


@config_app.command("show")
def config_show(
    path: Annotated[
        Optional[Path], typer.Argument(help="DREEM config (omit for defaults).")  # noqa: UP045
    ] = None,
    overrides: SetOpt = None,
) -> None:
    """Print the fully defaulted DREEM config."""
    from dreem.config import load_dreem_config
    from dreem.config.yaml_io import dump_yaml

    cfg = load_dreem_config(path if path is not None else {}, overrides or [])
    typer.echo(dump_yaml(cfg.to_dict()))


def _show_warnings() -> None:
    """Print dreem's warnings (plan notes, crop mismatches, ground-truth problems) on stderr,
    one line each, prefixed ``warning:``."""
    import logging

    class LevelFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"{record.levelname.lower()}: {record.getMessage()}"

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(LevelFormatter())
    logger = logging.getLogger("dreem")
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


# OS errors a user fixes (a read-only or full output folder): one line, no traceback
_USER_ERRNOS = ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "EISDIR", "ENOTDIR")


def main() -> None:
    """Console entry point: user errors print one clean message and exit 2."""
    import errno

    from dreem.utils.errors import DreemError
    from dreem.utils.process import exit_now, skip_exit_collection

    _show_warnings()
    status: int | str | None = 0
    try:
        app()
    except SystemExit as done:  # how Typer ends every command
        status = done.code
    except DreemError as err:
        typer.echo(f"error: {err}", err=True)
        status = 2
    except OSError as err:
        codes = {getattr(errno, n) for n in _USER_ERRNOS if hasattr(errno, n)}
        if err.errno not in codes or not err.filename:
            skip_exit_collection()  # a traceback follows; the ordinary exit
            raise
        typer.echo(f"error: {err.filename}: {err.strerror}", err=True)
        status = 2
    except BaseException:  # an unexpected error or Ctrl-C: its traceback, the ordinary exit
        skip_exit_collection()
        raise
    exit_now(status)


if __name__ == "__main__":
    main()
