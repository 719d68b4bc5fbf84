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
    from dreem.io.discover import discover_dataset, write_manifest

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
    config: Annotated[Path, typer.Argument(help="DREEM training config (YAML) with data paths.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    overrides: SetOpt = None,
    name: Annotated[
        Optional[str], typer.Option(help="Model name (default: the config file's stem).")  # noqa: UP045
    ] = None,
) -> None:
    """Train a model from a DREEM config: its dataset.train_dataset/val_dataset sections."""
    from dreem.stages import train_from_config

    result = train_from_config(config, out_dir, overrides or [], name=name)
    if result.get("rank", 0) != 0:  # DDP: the main process reports
        return
    typer.echo(json.dumps(result, indent=2, default=str))
    typer.echo(f"model: {result['checkpoint']}")


@app.command()
def track(
    model: Annotated[
        str, typer.Argument(help="Checkpoint (.ckpt), 'baseline' or 'baseline:motion'.")
    ],
    data: Annotated[Path, typer.Argument(help="A crop shard (.parquet) or a data directory.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Config whose tracker section to use (default: the checkpoint's)."),
    ] = None,
    overrides: SetOpt = None,
) -> None:
    """Track every video of a shard or directory; write .slp/CTC + tables."""
    from dreem.stages import track_data

    outputs = track_data(model, data, out_dir, config, overrides or [])
    typer.echo(f"{len(outputs)} videos tracked -> {out_dir}")


@app.command("eval")
def evaluate(
    data: Annotated[Path, typer.Argument(help="Data directory with ground-truth tracks.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    model: Annotated[
        list[str],
        typer.Option(
            "--model", "-m", help="Checkpoint, 'baseline[:motion]' or name=checkpoint (repeatable)."
        ),
    ],
    config: Annotated[Optional[Path], typer.Option()] = None,  # noqa: UP045
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
) -> None:
    """Track and evaluate one or more models on a directory; write a summary table+figure."""
    from dreem.stages import eval_directory

    summary = eval_directory(
        model, data, out_dir, config, overrides or [], gt=gt, match=match, threshold=threshold
    )
    typer.echo(summary.to_string(index=False))


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


def main() -> None:
    """Console entry point: user errors print one clean message and exit 2."""
    from dreem.utils.errors import DreemError

    try:
        app()
    except DreemError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
