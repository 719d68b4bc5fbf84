# Parse-time helpers shared by all rules: config validation, per-video job enumeration,
# per-rule params (config subtree + dreem version + dreem source hash) and output paths.

import functools
import hashlib
import os
from pathlib import Path

import dreem
from dreem.config import load_dreem_config
from dreem.config.pipeline import load_pipeline_config
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate
from dreem.utils.errors import DreemError

# envs/dreem.yaml pip-installs the checkout that holds this Snakefile (see that file).
os.environ.setdefault("DREEM_PIPELINE_ROOT", str(Path(workflow.basedir).resolve()))

# 1. Config: JSON-Schema first (clear messages with the failing key), then the library's
#    cross-checks (unknown dataset names in models/evaluate, missing model configs, ...).
# set_default=False: defaults come from load_pipeline_config (filling them from a oneOf
# schema would inject one branch's defaults into the other).
validate(config, "../schemas/config.schema.yaml", set_default=False)
try:
    PCFG = load_pipeline_config(dict(config))
except DreemError as err:
    raise WorkflowError(f"invalid pipeline config: {err}") from None

OUT = str(PCFG["output_dir"]).rstrip("/") or "."
SEED = PCFG.get("seed")
DEMO = PCFG.get("demo") or {}
DATASETS = PCFG["datasets"]
MODELS = PCFG["models"]
EVALUATE = PCFG.get("evaluate") or {}
EVAL_DATASETS = list(EVALUATE.get("datasets") or [])
EVAL_MODELS = list(EVALUATE.get("models") or [])
EVAL_METRICS = EVALUATE.get("metrics")
RENDER = bool(EVALUATE.get("render", False))

NAME_RE = r"[A-Za-z0-9._-]+"


wildcard_constraints:
    dataset=NAME_RE,
    model=NAME_RE,
    video_id=NAME_RE,


# 2. Code identity: the dreem version and a hash of the sources each rule runs. A param
#    change is a rerun trigger, so editing e.g. dreem/inference/ reruns track onward only.
DREEM_DIR = Path(dreem.__file__).resolve().parent
RULE_SOURCES = {
    "demo": ["synth", "utils"],
    "discover": ["io", "utils"],
    "extract": ["data", "io", "utils"],
    "train": ["training", "models", "data", "config", "io", "utils"],
    "track": ["inference", "models", "data", "io", "utils"],
    "evaluate": ["evaluation", "io", "utils"],
    "render": ["evaluation", "io", "utils"],
    "aggregate": ["evaluation", "utils"],
}


@functools.cache
def _source_hash(parts: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for part in parts:
        root = DREEM_DIR / part
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for f in files:
            if f.is_file() and f.suffix in {".py", ".yaml", ".json"}:
                h.update(str(f.relative_to(DREEM_DIR)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def code_param(rule_name: str) -> dict:
    """``{"version", "sources"}`` for a rule's ``params: code=...``."""
    return {
        "version": dreem.__version__,
        "sources": _source_hash(tuple(RULE_SOURCES[rule_name])),
    }


# 3. Models: DREEM configs are loaded (and validated) once here; rules get only subtrees.
def _load_model_configs() -> dict:
    cfgs = {}
    for name, spec in MODELS.items():
        if spec.get("baseline"):
            continue
        try:
            cfgs[name] = load_dreem_config(spec["config"], spec.get("overrides"))
        except DreemError as err:
            raise WorkflowError(f"models.{name}.config ({spec['config']}): {err}") from None
    return cfgs


MODEL_CFGS = _load_model_configs()


def is_baseline(model: str) -> bool:
    return bool(MODELS[model].get("baseline"))


def train_cfg(model: str) -> dict:
    """The DREEM config a model trains with: everything but the tracker section."""
    return {k: v for k, v in MODEL_CFGS[model].items() if k != "tracker"}


def tracker_cfg(model: str) -> dict | None:
    """Tracker section: the model config's, or the baseline spec's tracker keys."""
    if is_baseline(model):
        return {k: v for k, v in MODELS[model].items() if k != "baseline"}
    cfg = dict(MODEL_CFGS[model].get("tracker") or {})
    # clip_length null means "the checkpoint's clip_length"; track_shard fills it only
    # when the key is absent, so leave it out.
    if cfg.get("clip_length", 0) is None:
        del cfg["clip_length"]
    return cfg


def track_model_input(model: str) -> list[str]:
    """The checkpoint a track job reads (none for the baseline)."""
    return [] if is_baseline(model) else [model_ckpt(model)]


def model_ckpt(model: str) -> str:
    return f"{OUT}/models/{model}/best.ckpt"


# 4. Extraction params of a dataset: its own spec, else the train_dataset section of the
#    first trained model that uses it (train/val first, then evaluation), else defaults.
def _defaults_model(dataset: str) -> str | None:
    trained = [m for m in MODELS if not is_baseline(m)]
    for m in trained:
        if dataset in (MODELS[m].get("train") or []) + (MODELS[m].get("val") or []):
            return m
    for m in EVAL_MODELS:
        if m in MODEL_CFGS:
            return m
    return trained[0] if trained else None


@functools.cache
def extract_params(dataset: str) -> dict:
    from dreem.data.extract import extraction_params

    m = _defaults_model(dataset)
    defaults = {}
    if m is not None:
        defaults = dict((MODEL_CFGS[m].get("dataset") or {}).get("train_dataset") or {})
    if defaults.get("seed") is None:
        defaults["seed"] = SEED
    return extraction_params(DATASETS[dataset], defaults)


# 5. Demo data and per-video enumeration. Demo datasets (a dir.path inside demo.out_dir)
#    get their video ids from the demo spec, so `snakemake -n` on a fresh clone shows the
#    whole DAG and one call runs it all (no checkpoint: Snakemake does not reschedule all
#    pending jobs after a re-run checkpoint). Their only data input is the demo's DONE.json
#    (written last, atomically). Other datasets are paired at parse time (pair_files is
#    cheap) and their raw files are inputs, so an edited video re-extracts only itself.
DEMO_ENABLED = bool(DEMO.get("enabled", False))
DEMO_DIR = str(DEMO.get("out_dir", "demo_data")).rstrip("/")
DEMO_DONE = f"{DEMO_DIR}/DONE.json"
DEMO_KINDS = ("animals", "cells")
DEMO_SPLITS = ("train", "val", "test")


@functools.cache
def _demo_layout() -> dict:
    """``{kind: {split: [video_id, ...]}}`` of the demo data (computed, not generated)."""
    from dreem.synth import demo as synth_demo

    animals, cells = DEMO.get("animals"), DEMO.get("cells")
    if hasattr(synth_demo, "demo_layout"):
        return synth_demo.demo_layout(animals=animals, cells=cells)
    # Fallback mirroring dreem.synth.demo's naming (tests check it against discovery).
    try:
        a = synth_demo.resolve_spec(synth_demo.ANIMAL_DEFAULTS, animals, "demo.animals")
        c = synth_demo.resolve_spec(synth_demo.CELL_DEFAULTS, cells, "demo.cells")
    except DreemError as err:
        raise WorkflowError(f"invalid pipeline config: {err}") from None
    layout = {"animals": {}, "cells": {}}
    for split in DEMO_SPLITS:
        n = a["n_videos"][split]
        names = [f"{split}_{k:02d}" for k in range(n)]
        if a["hard_test"] and split == "test" and n > 1:
            names[-1] += "_hard"
        layout["animals"][split] = names
        layout["cells"][split] = [f"{k + 1:02d}" for k in range(c["n_videos"][split])]
    return layout


def _demo_dirs(dataset: str) -> list[tuple[str, str]] | None:
    """(kind, split) of each demo folder a dataset reads; None if it is not demo data."""
    if not DEMO_ENABLED:
        return None
    spec = DATASETS[dataset]
    demo_root = Path(DEMO_DIR).resolve()
    paths = [p for p in _spec_paths(spec) if _inside(p, demo_root)]
    if not paths:
        return None
    dir_paths = (spec.get("dir") or {}).get("path")
    dir_paths = [dir_paths] if isinstance(dir_paths, str) else list(dir_paths or [])
    out = []
    for p in dir_paths:
        rel = Path(p).resolve().relative_to(demo_root).parts if _inside(p, demo_root) else ()
        if len(rel) != 2 or rel[0] not in DEMO_KINDS or rel[1] not in DEMO_SPLITS:
            raise WorkflowError(
                f"datasets.{dataset}.dir.path: demo data must be read as "
                f"{DEMO_DIR}/{{animals,cells}}/{{train,val,test}}, got {p!r}"
            )
        out.append((rel[0], rel[1]))
    if len(out) != len(paths):
        raise WorkflowError(
            f"datasets.{dataset}: demo data must be given as dir.path (got file lists)"
        )
    return out


def _inside(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def _spec_paths(obj) -> list[str]:
    if isinstance(obj, dict):
        return [p for v in obj.values() for p in _spec_paths(v)]
    if isinstance(obj, (list, tuple)):
        return [p for v in obj for p in _spec_paths(v)]
    return [obj] if isinstance(obj, str) and ("/" in obj or "\\" in obj) else []


def uses_demo(dataset: str) -> bool:
    return _demo_dirs(dataset) is not None


@functools.cache
def _pairs(dataset: str) -> tuple:
    from dreem.io.discover import pair_files

    try:
        pairs = tuple(pair_files(DATASETS[dataset]))
    except DreemError as err:
        raise WorkflowError(f"datasets.{dataset}: {err}") from None
    if not pairs:
        raise WorkflowError(f"datasets.{dataset}: no labels/video pairs found")
    return pairs


@functools.cache
def video_ids(dataset: str) -> list[str]:
    dirs = _demo_dirs(dataset)
    if dirs is not None:
        ids = [v for kind, split in dirs for v in _demo_layout()[kind][split]]
        if not ids:
            raise WorkflowError(f"datasets.{dataset}: the demo spec makes no videos for it")
        return ids
    return [p.video_id for p in _pairs(dataset)]


def data_inputs(dataset: str, video_id: str | None = None) -> list[str]:
    """Data files a job reads: the demo's DONE.json, or the raw files (of one video)."""
    if uses_demo(dataset):
        return [DEMO_DONE]
    files = []
    for p in _pairs(dataset):
        if video_id is None or p.video_id == video_id:
            files.append(str(p.labels_path))
            if p.video_path is not None and str(p.video_path) != str(p.labels_path):
                files.append(str(p.video_path))
    return files


# Dataset-spec keys that only matter after discovery (crop, clip, augmentation settings):
# left out of discover's params so editing them does not re-discover the dataset.
NON_DISCOVERY_KEYS = frozenset({
    "crop_size", "padding", "anchors", "handle_missing", "seed", "chunk", "clip_length",
    "mode", "n_chunks", "augmentations", "normalize_image", "max_batching_gap",
    "use_tight_bbox", "dilation_radius_px", "max_detection_overlap", "max_tracks",
    "apply_mask_to_crop", "detection_iou_threshold", "verbose",
})


def discovery_spec(dataset: str) -> dict:
    """The part of a dataset spec that decides which files pair up (discover's params)."""
    return {k: v for k, v in DATASETS[dataset].items() if k not in NON_DISCOVERY_KEYS}


# 6. Output paths (docs/architecture.md).
def manifest_path(dataset: str) -> str:
    return f"{OUT}/datasets/{dataset}/manifest.parquet"


def shard_path(dataset: str, video_id: str) -> str:
    return f"{OUT}/datasets/{dataset}/crops/{video_id}.parquet"


GROUND_TRUTH = EVALUATE.get("ground_truth") or {}


def gt_shard(dataset: str, video_id: str) -> list[str]:
    """The ground-truth shard of the same video for detection-level evaluation, if any."""
    gt = GROUND_TRUTH.get(dataset)
    if gt is None:
        return []
    if video_id not in video_ids(gt):
        raise WorkflowError(
            f"evaluate.ground_truth.{dataset}: dataset {gt!r} has no video {video_id!r}"
        )
    return [shard_path(gt, video_id)]


def detection_params(dataset: str) -> dict | None:
    """Matching settings for a detection-level evaluated dataset (None: identity-only)."""
    if dataset not in GROUND_TRUTH:
        return None
    return {"match": EVALUATE.get("match", "centroid"), "threshold": EVALUATE.get("threshold")}


def shards(datasets) -> list[str]:
    return [shard_path(d, v) for d in datasets for v in video_ids(d)]


def tracks_path(model: str, dataset: str, video_id: str) -> str:
    return f"{OUT}/tracks/{model}/{dataset}/{video_id}.parquet"


def metrics_path(model: str, dataset: str, video_id: str) -> str:
    return f"{OUT}/metrics/{model}/{dataset}/{video_id}.csv"


def render_model() -> str | None:
    """The model whose tracks are rendered for the report (first trained one evaluated)."""
    trained = [m for m in EVAL_MODELS if not is_baseline(m)]
    return (trained or EVAL_MODELS or [None])[0]


def render_path(model: str, dataset: str, video_id: str) -> str:
    return f"{OUT}/summary/videos/{model}/{dataset}/{video_id}.mp4"


def all_metrics(wildcards=None) -> list[str]:
    return [
        metrics_path(m, d, v) for m in EVAL_MODELS for d in EVAL_DATASETS for v in video_ids(d)
    ]


def all_renders(wildcards=None) -> list[str]:
    m = render_model()
    if not RENDER or m is None:
        return []
    return [render_path(m, d, video_ids(d)[0]) for d in EVAL_DATASETS]


def all_curves(wildcards=None) -> list[str]:
    """Training-curve figures of the evaluated trained models (shown in the report)."""
    return [f"{OUT}/models/{m}/curves.png" for m in EVAL_MODELS if not is_baseline(m)]


SUMMARY = {
    "csv": f"{OUT}/summary/metrics.csv",
    "png": f"{OUT}/summary/metrics.png",
    "html": f"{OUT}/summary/report.html",
}


def summary_outputs() -> list[str]:
    return list(SUMMARY.values()) if EVAL_MODELS and EVAL_DATASETS else []


def model_outputs() -> list[str]:
    return [model_ckpt(m) for m in MODELS if not is_baseline(m)]


def manifest_outputs() -> list[str]:
    """Manifests of every dataset the run uses (discovery also validates the data)."""
    used = set(EVAL_DATASETS)
    for m in MODELS.values():
        used.update((m.get("train") or []) + (m.get("val") or []))
    return [manifest_path(d) for d in DATASETS if d in used]


def log_path(*parts: str) -> str:
    return f"{OUT}/logs/" + "/".join(parts) + ".log"
