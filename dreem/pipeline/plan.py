"""The pipeline plan: every decision of a run, made once from the validated config.

Both the Snakefile (``workflow/rules/common.smk``) and the CLI (``dreem.stages``) build a
:class:`Plan` and ask it for datasets, per-video jobs, file paths and each stage's exact
parameters, so the two can never decide differently.

Crop settings are resolved once per (dataset, video, model), in this order: keys the
dataset spec gives; else the model's training crops (its config's ``train_dataset``, with
the keys its own training dataset spec gives); else the dataset-section defaults. A model
therefore always tracks with the crops it was trained on unless a dataset spec says
otherwise, and :attr:`Plan.notes` says so when it does. Each distinct setting has its own
shard folder (``crops/{key}/``), so two models with different crops never share shards.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from dreem.config.data import CROP_KEYS, DISCOVERY_KEYS, CropParams, DatasetSection, crop_params
from dreem.config.dreem import DreemConfig
from dreem.config.pipeline import BaselineModel, CheckpointModel, PipelineConfig, TrainedModel
from dreem.config.tracker import TrackerConfig
from dreem.pipeline import demo
from dreem.utils.errors import ConfigError


@dataclass(frozen=True)
class Video:
    """One video of a dataset: its id, raw files (none for demo data) and ``dir.path`` index."""

    dataset: str
    video_id: str
    files: tuple[str, ...] = ()
    dir_index: int | None = None


class Plan:
    """Datasets, models, jobs, paths and stage parameters of one pipeline config."""

    def __init__(self, cfg: PipelineConfig):
        self.cfg = cfg
        self.out = cfg.output_dir.rstrip("/") or "."
        self.notes: list[str] = []  # user-facing remarks (e.g. crops differ from training)
        self._videos: dict[str, tuple[Video, ...]] = {}
        self._crops: dict[tuple[str, str, str], CropParams] = {}
        self._plan_crops()

    # ------------------------------------------------------------------ datasets
    def spec(self, dataset: str) -> DatasetSection:
        return self.cfg.datasets[dataset]

    def demo_dirs(self, dataset: str) -> list[tuple[str, str]] | None:
        return demo.demo_dirs(dataset, self.spec(dataset), self.cfg.demo)

    def uses_demo(self, dataset: str) -> bool:
        return self.demo_dirs(dataset) is not None

    def videos(self, dataset: str) -> tuple[Video, ...]:
        """The dataset's videos (demo: from the demo settings; else paired by file stem)."""
        if dataset not in self._videos:
            self._videos[dataset] = self._find_videos(dataset)
        return self._videos[dataset]

    def _find_videos(self, dataset: str) -> tuple[Video, ...]:
        dirs = self.demo_dirs(dataset)
        if dirs is not None:
            lay = demo.layout(self.cfg.demo)
            out = tuple(
                Video(dataset, v, (), i)
                for i, (kind, split) in enumerate(dirs)
                for v in lay[kind][split]
            )
            if not out:
                raise ConfigError(f"datasets.{dataset}: the demo settings make no videos for it")
            return out
        from dreem.io.discover import pair_files

        spec = self.spec(dataset)
        try:
            pairs = pair_files(spec.discovery())
        except Exception as err:  # noqa: BLE001 - re-raised with the dataset's key path
            raise ConfigError(f"datasets.{dataset}: {err}") from err
        dirs_list = [Path(d).resolve() for d in (spec.dir.path or [])] if spec.dir else []
        out = []
        for p in pairs:
            files = tuple(dict.fromkeys(str(f) for f in (p.labels_path, p.video_path)))
            out.append(Video(dataset, p.video_id, files, _dir_index(p, dirs_list)))
        return tuple(out)

    def video_ids(self, dataset: str) -> list[str]:
        return [v.video_id for v in self.videos(dataset)]

    def video(self, dataset: str, video_id: str) -> Video:
        for v in self.videos(dataset):
            if v.video_id == video_id:
                return v
        raise ConfigError(f"datasets.{dataset}: no video {video_id!r}")

    def data_inputs(self, dataset: str, video_id: str | None = None) -> list[str]:
        """Raw files a job reads: the demo's DONE.json, or the (one video's) files."""
        if self.uses_demo(dataset):
            return [demo.done_path(self.cfg.demo)]
        return [f for v in self.videos(dataset) if video_id in (None, v.video_id) for f in v.files]

    # ------------------------------------------------------------------ models
    def trained(self) -> dict[str, TrainedModel]:
        return {n: m for n, m in self.cfg.models.items() if isinstance(m, TrainedModel)}

    def is_baseline(self, model: str) -> bool:
        return isinstance(self.cfg.models[model], BaselineModel)

    def dreem_config(self, model: str) -> DreemConfig:
        """A model's DREEM config: the one it trains with, or the one its checkpoint stores."""
        spec = self.cfg.models[model]
        if isinstance(spec, TrainedModel):
            return spec.dreem
        if isinstance(spec, CheckpointModel):
            return _stored_config(spec.checkpoint)
        raise ConfigError(f"models.{model}: a baseline has no DREEM config")

    def checkpoint(self, model: str) -> str:
        """The checkpoint a track job reads: trained here (best.ckpt) or given."""
        spec = self.cfg.models[model]
        if isinstance(spec, CheckpointModel):
            return spec.checkpoint
        return f"{self.model_dir(model)}/best.ckpt"

    @functools.cache  # noqa: B019 - one Plan per config; cached for the plan's lifetime
    def train_crop(self, model: str) -> CropParams:
        """The crops ``model`` trains on (and tracks with unless a dataset says otherwise)."""
        if isinstance(self.cfg.models[model], CheckpointModel):
            return crop_params(None, self.dreem_config(model).dataset.train_dataset)
        spec = self.trained()[model]
        section = self.dreem_config(model).dataset.train_dataset
        first = spec.train[0]
        crops = {
            self._resolve(d, v, section).key(): self._resolve(d, v, section)
            for d in spec.train
            for v in self.videos(d)
        }
        if len(crops) > 1:
            raise ConfigError(
                f"models.{model}.train: its datasets resolve to {len(crops)} different crop "
                f"settings ({', '.join(sorted(crops))}); a model trains on one crop geometry "
                f"(set the crop keys on dataset {first!r} and the others alike)"
            )
        return next(iter(crops.values()))

    def _resolve(self, dataset: str, video: Video, fallback) -> CropParams:
        return crop_params(
            self.spec(dataset),
            fallback,
            seed=self.cfg.seed,
            key_path=f"datasets.{dataset}",
            per_dir=video.dir_index,
        )

    def crop(self, dataset: str, video_id: str, model: str | None = None) -> CropParams:
        """Crop settings of one video as ``model`` needs them (None: no model)."""
        video = self.video(dataset, video_id)
        if model is not None and not self.is_baseline(model):
            spec = self.cfg.models[model]
            if isinstance(spec, TrainedModel) and (dataset in spec.train or dataset in spec.val):
                return self._resolve(dataset, video, self.dreem_config(model).dataset.train_dataset)
            return self._resolve(dataset, video, self.train_crop(model))
        for name, spec in self.trained().items():  # a baseline reuses a model's shards
            if dataset in spec.train or dataset in spec.val or dataset in self._tracked_by(name):
                return self.crop(dataset, video_id, name)
        return self._resolve(dataset, video, None)

    def _tracked_by(self, model: str) -> list[str]:
        return [d for m, d in self.track_pairs() if m == model]

    def track_pairs(self) -> list[tuple[str, str]]:
        """Every (model, dataset) the run tracks: evaluated ones first, then track-only."""
        pairs = []
        for section in (self.cfg.evaluate, self.cfg.track):
            for m in section.models:
                for d in section.datasets:
                    if (m, d) not in pairs:
                        pairs.append((m, d))
        return pairs

    def evaluated(self, model: str, dataset: str) -> bool:
        ev = self.cfg.evaluate
        return model in ev.models and dataset in ev.datasets

    def _plan_crops(self) -> None:
        """Register every (dataset, crop key, video) the run extracts, and note overrides."""
        for name, spec in self.trained().items():
            for d in (*spec.train, *spec.val):
                for v in self.videos(d):
                    self._register(d, v.video_id, self.crop(d, v.video_id, name))
        for m, d in self.track_pairs():
            for v in self.videos(d):
                self._register(d, v.video_id, self.crop(d, v.video_id, m))
            if not self.is_baseline(m):
                self._note_override(d, m)
        for m in self.cfg.evaluate.models:
            for gt in (self.cfg.evaluate.ground_truth or {}).values():
                for v in self.videos(gt):
                    self._register(gt, v.video_id, self.crop(gt, v.video_id, m))

    def _register(self, dataset: str, video_id: str, crop: CropParams) -> None:
        self._crops[(dataset, crop.key(), video_id)] = crop

    def _note_override(self, dataset: str, model: str) -> None:
        spec = self.spec(dataset)
        trained = self.train_crop(model)
        given = {k: getattr(spec, k) for k in CROP_KEYS if k in spec.given()}
        differ = {k: v for k, v in given.items() if v != getattr(trained, k)}
        if differ:
            shown = ", ".join(
                f"{k}={v!r} (trained: {getattr(trained, k)!r})" for k, v in differ.items()
            )
            self.notes.append(
                f"datasets.{dataset}: tracking with model {model!r} uses the dataset's own "
                f"crop settings {shown}"
            )

    # ------------------------------------------------------------------ paths
    def shard(self, dataset: str, video_id: str, model: str | None = None) -> str:
        crop = self.crop(dataset, video_id, model)
        return f"{self.out}/datasets/{dataset}/crops/{crop.key()}/{video_id}.parquet"

    def extract_params(self, dataset: str, key: str, video_id: str) -> CropParams:
        """The crop settings an extract job (dataset, crop key, video) must use."""
        try:
            return self._crops[(dataset, key, video_id)]
        except KeyError:
            raise ConfigError(
                f"datasets.{dataset}: no planned extraction {key}/{video_id}"
            ) from None

    def extract_jobs(self) -> list[tuple[str, str, str]]:
        """Every (dataset, crop key, video id) the run extracts."""
        return sorted(self._crops)

    def manifest(self, dataset: str) -> str:
        return f"{self.out}/datasets/{dataset}/manifest.parquet"

    def model_dir(self, model: str) -> str:
        return f"{self.out}/models/{model}"

    def train_dir(self, model: str) -> str:
        """Where a model's training run writes (checkpoints, logs, curves)."""
        return f"{self.model_dir(model)}/train"

    def train_shards(self, model: str, split: str) -> list[str]:
        spec = self.trained()[model]
        return [self.shard(d, v, model) for d in getattr(spec, split) for v in self.video_ids(d)]

    def track_input(self, model: str) -> list[str]:
        """The checkpoint a track job reads (none for a baseline)."""
        return [] if self.is_baseline(model) else [self.checkpoint(model)]

    def model_spec(self, model: str) -> str:
        """What ``track_job`` gets: a checkpoint path or ``baseline:<kind>``."""
        kind = self.baseline_kind(model)
        return f"baseline:{kind}" if kind else self.checkpoint(model)

    def tracks(self, model: str, dataset: str, video_id: str) -> str:
        return f"{self.out}/tracks/{model}/{dataset}/{video_id}.parquet"

    def metrics(self, model: str, dataset: str, video_id: str) -> str:
        return f"{self.out}/metrics/{model}/{dataset}/{video_id}.csv"

    # ------------------------------------------------------------------ stage parameters
    def train_config(self, model: str) -> DreemConfig:
        """The DREEM config ``model`` trains with: its own, with the crops it trains on; where
        the data came from is left out (the shards are the training inputs)."""
        cfg = self.dreem_config(model)
        crop = self.train_crop(model).to_dict()
        no_source = {k: None for k in DISCOVERY_KEYS if k != "truncate_labels"}
        train = cfg.dataset.train_dataset.model_copy(
            update={**no_source, **{k: crop[k] for k in CROP_KEYS}}
        )
        val = cfg.dataset.val_dataset
        spec = self.trained()[model]
        if val is not None and spec.val:  # the crops its validation shards hold
            first = spec.val[0]
            vcrop = self.crop(first, self.video_ids(first)[0], model).to_dict()
            val = val.model_copy(update={**no_source, **{k: vcrop[k] for k in CROP_KEYS}})
        elif val is not None:
            val = val.model_copy(update=no_source)
        dataset = cfg.dataset.model_copy(update={"train_dataset": train, "val_dataset": val})
        return cfg.model_copy(update={"dataset": dataset, "seed": self.cfg.seed})

    def train_params(self, model: str) -> dict:
        """What defines a training run (the train rule's params and the resume fingerprint).

        The tracker section is part of it only when the checkpoint is chosen by a
        validation tracking metric (then a tracker edit changes which epoch is best). Which
        datasets the model trains on is not: their shards are the job's inputs.
        """
        cfg = self.train_config(model).to_dict()
        if not tracker_chooses_checkpoint(self.dreem_config(model)):
            cfg.pop("tracker")
        return {"cfg": cfg}

    def validation_tracker(self, model: str) -> dict:
        """The tracker section validation tracking uses: the model's own, also when
        :meth:`train_params` leaves it out (it does not choose ``best.ckpt`` then, so a
        tracker edit does not retrain; the logged ``val_*`` tracking metrics are those of
        the tracker at training time)."""
        return self.train_config(model).tracker.to_dict()

    def publish_config(self, model: str) -> dict:
        """The full config the published checkpoint stores (current tracker included)."""
        return self.train_config(model).to_dict()

    def eval_jobs(self) -> list[tuple[str, str, str]]:
        """(model, dataset, video) of every evaluated video."""
        ev = self.cfg.evaluate
        return [(m, d, v) for m in ev.models for d in ev.datasets for v in self.video_ids(d)]

    def track_jobs(self) -> list[tuple[str, str, str]]:
        """(model, dataset, video) of every tracked video (evaluated or track-only)."""
        return [(m, d, v) for m, d in self.track_pairs() for v in self.video_ids(d)]

    def ground_truth(self, dataset: str, video_id: str, model: str) -> list[str]:
        """The ground-truth shard of the same video for detection-level evaluation."""
        gt = (self.cfg.evaluate.ground_truth or {}).get(dataset)
        if gt is None:
            return []
        if video_id not in self.video_ids(gt):
            raise ConfigError(
                f"evaluate.ground_truth.{dataset}: dataset {gt!r} has no video {video_id!r}"
            )
        return [self.shard(gt, video_id, model)]

    def detection(self, dataset: str) -> dict | None:
        """Matching settings of a detection-level evaluated dataset (None: identity-only)."""
        ev = self.cfg.evaluate
        if dataset not in (ev.ground_truth or {}):
            return None
        return {"match": ev.match, "threshold": ev.threshold}

    def render_jobs(self) -> list[tuple[str, str, str]]:
        """(model, dataset, video) of every rendered video: with ``evaluate.render`` the
        first video of each evaluated dataset for each evaluated model; with
        ``track.render`` every track-only video."""
        jobs: list[tuple[str, str, str]] = []
        ev, tr = self.cfg.evaluate, self.cfg.track
        if ev.render:
            jobs += [(m, d, self.video_ids(d)[0]) for m in ev.models for d in ev.datasets]
        if tr.render:
            jobs += [(m, d, v) for m in tr.models for d in tr.datasets for v in self.video_ids(d)]
        return list(dict.fromkeys(jobs))

    def render(self, model: str, dataset: str, video_id: str) -> str:
        return f"{self.out}/videos/{model}/{dataset}/{video_id}.mp4"

    def render_options(self, model: str) -> dict:
        """What a render job draws: at most 300 frames, labelled with the model's name
        (the frame rate is the source video's, scaled up to a watchable size)."""
        return {"max_frames": 300, "label": model}

    def report_renders(self) -> list[str]:
        """Rendered videos the report shows: those of evaluated (model, dataset) pairs."""
        return [self.render(m, d, v) for m, d, v in self.render_jobs() if self.evaluated(m, d)]

    def report_curves(self) -> list[str]:
        """Training curves the report shows: of every evaluated model trained here."""
        ev = self.cfg.evaluate.models
        return [f"{self.train_dir(m)}/curves.png" for m in ev if m in self.trained()]

    def report_manifests(self) -> list[str]:
        """Manifests whose counts the report's provenance shows."""
        return [d["manifest"] for d in self.provenance()["datasets"].values()]

    def summary_dir(self) -> str:
        return f"{self.out}/summary"

    def report_title(self) -> str:
        return "dreem-pipeline report"

    def needs_tracks(self, dataset: str) -> bool:
        """True for a dataset evaluated on its own labels or serving as ground truth."""
        ev = self.cfg.evaluate
        gt = ev.ground_truth or {}
        return (dataset in ev.datasets and dataset not in gt) or dataset in gt.values()

    def used_datasets(self) -> list[str]:
        """Datasets the run reads (each gets a manifest: discovery validates the data)."""
        used = {d for _, d in self.track_pairs()}
        used |= set((self.cfg.evaluate.ground_truth or {}).values())
        for spec in self.trained().values():
            used |= {*spec.train, *spec.val}
        return [d for d in self.cfg.datasets if d in used]

    def tracker(self, model: str) -> TrackerConfig:
        """The tracker section a track job uses (a baseline's own keys)."""
        spec = self.cfg.models[model]
        if isinstance(spec, BaselineModel):
            keys = {k: v for k, v in spec.to_dict().items() if k != "baseline"}
            return TrackerConfig.model_validate(keys)
        stored = self.dreem_config(model).tracker
        if isinstance(spec, CheckpointModel) and spec.tracker:
            return TrackerConfig.model_validate(stored.to_dict() | spec.tracker)
        return stored

    def track_device(self, model: str) -> str:
        """The device a track job runs ``model`` on (``cpu`` for a baseline: no network)."""
        return "cpu" if self.is_baseline(model) else self.cfg.device

    def track_gpus(self, model: str) -> int:
        """GPUs a track job asks the cluster for: one when the config insists on a GPU."""
        dev = self.track_device(model)
        return 1 if dev in ("gpu", "cuda") or dev.startswith("cuda:") else 0

    def train_gpus(self, model: str) -> int:
        """GPUs a train job asks the cluster for: none for ``trainer.accelerator: cpu`` (or
        another non-CUDA accelerator), else ``trainer.devices`` when it is a count (1 for
        ``auto``/-1/a list of indices: one node, one GPU unless told otherwise)."""
        trainer = self.dreem_config(model).trainer
        if trainer.accelerator not in ("auto", "gpu", "cuda"):
            return 0
        devices = trainer.devices
        if isinstance(devices, list):
            return max(1, len(devices))
        return devices if isinstance(devices, int) and devices > 0 else 1

    def provenance(self) -> dict:
        """What the report says about the evaluated models and the datasets they saw (no
        timestamps: :func:`dreem.evaluation.provenance.collect` adds counts and dates)."""
        models: dict[str, dict] = {}
        seen: list[str] = list(self.cfg.evaluate.datasets)
        for m in self.cfg.evaluate.models:
            spec = self.cfg.models[m]
            if isinstance(spec, TrainedModel):
                info = {
                    "kind": "trained",
                    "config": spec.config,
                    "config_hash": config_hash(self.publish_config(m)),
                    "train": list(spec.train),
                    "val": list(spec.val),
                    "train_dir": self.train_dir(m),
                    "checkpoint": self.checkpoint(m),
                }
                seen += [*spec.train, *spec.val]
            elif isinstance(spec, CheckpointModel):
                info = {
                    "kind": "checkpoint",
                    "checkpoint": spec.checkpoint,
                    "config_hash": config_hash(self.dreem_config(m).to_dict()),
                }
            else:
                info = {
                    "kind": "baseline",
                    "baseline": spec.baseline,
                    "config_hash": config_hash(self.tracker(m).to_dict()),
                }
            models[m] = info
        datasets = {
            d: {"manifest": self.manifest(d), "source": self.describe_source(d)}
            for d in dict.fromkeys(seen)
        }
        return {"models": models, "datasets": datasets}

    def describe_source(self, dataset: str) -> str:
        """Where a dataset's files are, in one line."""
        if self.uses_demo(dataset):
            return f"generated demo data ({self.cfg.demo.out_dir})"
        spec = self.spec(dataset)
        if spec.dir and spec.dir.path:
            paths = ", ".join(str(p) for p in spec.dir.path)
            return f"{paths} ({spec.dir.labels_suffix} + {spec.dir.vid_suffix})"
        files = sorted({f for v in self.videos(dataset) for f in v.files})
        return f"{len(files)} files, e.g. {files[0]}" if files else ""

    def mlflow(self) -> dict | None:
        """MLflow store settings (:func:`dreem.pipeline.mlflow_log.settings`); None: off."""
        from dreem.pipeline.mlflow_log import settings

        return settings(self.out, self.cfg.mlflow)

    def baseline_kind(self, model: str) -> str | None:
        """``centroid``/``motion`` for a baseline, None for a trained model."""
        spec = self.cfg.models[model]
        return spec.baseline if isinstance(spec, BaselineModel) else None


@functools.cache
def _stored_config(path: str) -> DreemConfig:
    from dreem.models.checkpoint import read_checkpoint_config

    return read_checkpoint_config(path)


def config_hash(data: dict) -> str:
    """A short, stable hash of a config dict (12 hex digits of SHA-256 of sorted JSON)."""
    import hashlib
    import json

    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def tracker_chooses_checkpoint(cfg: DreemConfig) -> bool:
    """True when ``best.ckpt`` is picked by a validation tracking metric (its tracker matters)."""
    first = cfg.checkpointing.monitor[0] if cfg.checkpointing.monitor else "val_loss"
    return bool(cfg.runner.metrics.val) and first.startswith("val_") and first != "val_loss"


def _dir_index(pair, dirs: list[Path]) -> int | None:
    """Which ``dir.path`` entry holds a pair's files (for per-directory crop lists)."""
    if not dirs:
        return None
    parents = {Path(pair.labels_path).resolve().parent, Path(pair.video_path).resolve().parent}
    parents.add(Path(pair.video_path).resolve())  # image-folder videos
    for i, d in enumerate(dirs):
        if d in parents:
            return i
    return None
