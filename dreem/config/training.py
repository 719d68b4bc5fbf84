"""Training sections: ``loss``, ``optimizer``, ``scheduler``, ``logging``, ``early_stopping``,
``checkpointing`` and ``trainer`` (lightning.Trainer kwargs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator

from dreem.config.base import OpenSection, Section
from dreem.config.types import (
    Bool,
    Float,
    FloatList,
    Int,
    Number,
    OptBool,
    OptFloat,
    OptInt,
    OptIntList,
    OptNumber,
    OptStr,
    Str,
    StrList,
    doc,
    fail,
    one_of,
)


def _str_or_int(value: Any) -> Any:
    if (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
    ):
        return value
    raise fail(f"expected str, int or null, got {value!r}")


def _bool_or_str(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    raise fail(f"expected bool or str, got {value!r}")


def _bool_or_int(value: Any) -> Any:
    if isinstance(value, bool | int):
        return value
    raise fail(f"expected bool or int, got {value!r}")


def _str_or_dict(value: Any) -> Any:
    if value is None or isinstance(value, str | dict):
        return value
    raise fail(f"expected a DD:HH:MM:SS string, a mapping or null, got {value!r}")


def _devices(value: Any) -> Any:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, list | tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return list(value)
    raise fail(f"expected a count, 'auto', -1 or a list of device indices, got {value!r}")


class LossConfig(Section):
    """Association loss (and an optional appearance-metric loss)."""

    neg_unmatched: Bool = doc(False, "assign unmatched detections to the background")
    epsilon: Float = doc(1e-4, "numerical floor to avoid division by zero", ge=0)
    asso_weight: Float = doc(1.0, "weight of the association loss", ge=0)
    # EXTENSION (dreem.training.embedding_loss): supervised contrastive loss on the
    # encoder features; 0 = off (the reference).
    embedding_weight: Float = doc(
        0.0, "EXTENSION: weight of the contrastive loss on appearance features (0 = off)", ge=0
    )
    embedding_temperature: Float = doc(0.1, "EXTENSION: temperature of that contrastive loss", gt=0)


ADAM_DEFAULTS = {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}


class OptimizerConfig(OpenSection):
    """Optimizer: any ``torch.optim`` class by exact name; other keys are its kwargs."""

    OMIT_IF_NONE = frozenset(ADAM_DEFAULTS)
    CONTROL = frozenset({"name"})

    name: Str = doc("Adam", "torch.optim class name (exact, case-sensitive)")
    lr: Float = doc(1e-4, "learning rate", ge=0)
    betas: FloatList | None = doc(None, "Adam betas (two floats); Adam default [0.9, 0.999]")
    eps: OptFloat = doc(None, "denominator term for numerical stability; Adam default 1e-8", ge=0)
    weight_decay: OptFloat = doc(None, "weight decay (L2 penalty); Adam default 0.01", ge=0)

    @model_validator(mode="before")
    @classmethod
    def _adam_defaults(cls, data: Any) -> Any:
        """The reference's Adam settings apply to Adam only (not forced on other classes)."""
        if isinstance(data, dict) and data.get("name", "Adam") == "Adam":
            data = {**{k: v for k, v in ADAM_DEFAULTS.items() if k not in data}, **data}
        return data


RLROP = "ReduceLROnPlateau"
RLROP_DEFAULTS = {
    "mode": "min",
    "factor": 0.5,
    "patience": 5,
    "threshold": 1e-3,
    "threshold_mode": "rel",
}


def _scheduler_name(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise fail(f"expected a scheduler class name or a list of names, got {value!r}")


class SchedulerConfig(OpenSection):
    """Learning-rate scheduler (stepped per epoch, monitoring val_loss); ``null`` = constant
    lr. A list of names builds a SequentialLR (kwargs under '0', '1', ... and milestones)."""

    OMIT_IF_NONE = frozenset({*RLROP_DEFAULTS, "milestones"})
    CONTROL = frozenset({"name", "milestones"})

    name: Annotated[str | list[str], BeforeValidator(_scheduler_name)] = doc(
        RLROP, "torch.optim.lr_scheduler class name, or a list of names (SequentialLR)"
    )
    mode: Annotated[Literal["min", "max"] | None, one_of(("min", "max", None))] = doc(
        None, "min or max (ReduceLROnPlateau; default min)"
    )
    factor: OptFloat = doc(None, "lr multiplier on plateau (ReduceLROnPlateau; 0.5)", ge=0)
    patience: OptInt = doc(None, "epochs without improvement (ReduceLROnPlateau; 5)", ge=0)
    threshold: OptFloat = doc(None, "minimum significant change (ReduceLROnPlateau; 1e-3)", ge=0)
    threshold_mode: Annotated[Literal["rel", "abs"] | None, one_of(("rel", "abs", None))] = doc(
        None, "rel or abs (ReduceLROnPlateau; rel)"
    )
    milestones: OptIntList = doc(None, "SequentialLR switch epochs (with a list name)")

    @model_validator(mode="before")
    @classmethod
    def _plateau_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("name", RLROP) == RLROP:
            data = {**{k: v for k, v in RLROP_DEFAULTS.items() if k not in data}, **data}
        return data

    @property
    def names(self) -> list[str]:
        """The scheduler class name(s) as a list."""
        return list(self.name) if isinstance(self.name, list) else [self.name]


LOGGER_TYPES = ("CSVLogger", "TensorBoardLogger", "WandbLogger", "MLFlowLogger")


class LoggingConfig(OpenSection):
    """Experiment logger (a Lightning logger class); ``null`` = no logger. Other keys are
    the logger's kwargs."""

    OMIT_IF_NONE = frozenset(
        {
            "version",
            "project",
            "entity",
            "group",
            "log_model",
            "notes",
            "tracking_uri",
            "experiment_name",
        }
    )
    CONTROL = frozenset({"logger_type"})

    logger_type: Annotated[
        Literal["CSVLogger", "TensorBoardLogger", "WandbLogger", "MLFlowLogger"] | None,
        one_of((*LOGGER_TYPES, None)),
    ] = doc(None, "Lightning logger class; null = no logger")
    name: Str = doc("dreem_train", "run name")
    save_dir: Str = doc("./logs", "directory for logger output (relative: under the model dir)")
    version: Annotated[str | int | None, BeforeValidator(_str_or_int)] = doc(
        None, "run version / id"
    )
    project: OptStr = doc(None, "W&B project")
    entity: OptStr = doc(None, "W&B entity")
    group: OptStr = doc(None, "W&B group")
    log_model: Annotated[bool | str | None, BeforeValidator(_bool_or_str)] = doc(
        None, "W&B: log checkpoints"
    )
    notes: OptStr = doc(None, "W&B run notes")
    tracking_uri: OptStr = doc(None, "MLflow tracking URI")
    experiment_name: OptStr = doc(None, "MLflow experiment")


class EarlyStoppingConfig(Section):
    """Early stopping (lightning EarlyStopping)."""

    monitor: Str = doc("val_loss", "quantity to monitor")
    min_delta: Float = doc(0.1, "smallest change counted as improvement", ge=0)
    patience: Int = doc(10, "checks without improvement before stopping", ge=0)
    mode: Annotated[Literal["min", "max"], one_of(("min", "max"))] = doc("min", "min or max")
    check_finite: Bool = doc(True, "stop when the monitored value is NaN/inf")
    stopping_threshold: OptFloat = doc(1e-8, "stop once the monitor reaches this")
    divergence_threshold: OptFloat = doc(None, "stop once the monitor is worse than this")
    verbose: Bool = doc(False, "log early-stopping decisions")


class CheckpointingConfig(Section):
    """One ModelCheckpoint per monitored metric."""

    monitor: StrList = doc(
        ["val_loss"],
        "metrics to keep best checkpoints for; the first one's best is best.ckpt "
        "(val_num_switches_then_loss: fewest validation switches, then lowest val_loss)",
    )
    verbose: Bool = doc(True, "log checkpoint saves")
    save_last: Annotated[bool | Literal["link"], one_of((True, False, "link"))] = doc(
        True, "also save last.ckpt (or 'link')"
    )
    dirpath: OptStr = doc(None, "checkpoint directory; null = <model dir>/checkpoints")
    auto_insert_metric_name: Bool = doc(True, "put the metric name in file names")
    every_n_epochs: OptInt = doc(1, "epochs between checkpoints", ge=0)
    save_top_k: Int = doc(-1, "best k checkpoints kept (-1 = all)", ge=-1)
    filename: OptStr = doc(None, "file name template; null = {epoch}-{<metric>}")


PRECISIONS = (
    None,
    16,
    32,
    64,
    "16",
    "32",
    "64",
    "bf16",
    "16-mixed",
    "bf16-mixed",
    "32-true",
    "64-true",
    "16-true",
    "bf16-true",
    "transformer-engine",
    "transformer-engine-float16",
)
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "ipu", "hpu")


class TrainerConfig(Section):
    """lightning.Trainer kwargs."""

    accelerator: Annotated[str, one_of(ACCELERATORS)] = doc(
        "auto", "cpu, gpu, cuda, mps, tpu, ... or auto"
    )
    strategy: Str = doc("auto", "training strategy (auto, ddp, ddp_spawn, ...)")
    devices: Annotated[int | str | list[int], BeforeValidator(_devices)] = doc(
        1, "device count, indices, -1 or 'auto'"
    )
    num_nodes: Int = doc(1, "number of nodes", ge=1)
    precision: Annotated[str | int | None, one_of(PRECISIONS)] = doc(
        None, "e.g. 32-true, 16-mixed, bf16-mixed"
    )
    fast_dev_run: Annotated[bool | int, BeforeValidator(_bool_or_int)] = doc(
        False, "run n batches as a smoke test"
    )
    max_epochs: OptInt = doc(20, "stop after this many epochs (-1 = unlimited)", ge=-1)
    min_epochs: OptInt = doc(1, "train at least this many epochs", ge=0)
    max_steps: Int = doc(-1, "stop after this many steps (-1 = unlimited)", ge=-1)
    min_steps: OptInt = doc(None, "train at least this many steps", ge=0)
    max_time: Annotated[str | dict | None, BeforeValidator(_str_or_dict)] = doc(
        None, "wall-time limit DD:HH:MM:SS"
    )
    limit_train_batches: Number = doc(1.0, "fraction (float) or count (int)", ge=0)
    limit_val_batches: Number = doc(1.0, "fraction (float) or count (int)", ge=0)
    limit_test_batches: Number = doc(1.0, "fraction (float) or count (int)", ge=0)
    limit_predict_batches: Number = doc(1.0, "fraction (float) or count (int)", ge=0)
    overfit_batches: Number = doc(0.0, "overfit on this many batches", ge=0)
    val_check_interval: OptNumber = doc(None, "validate every n batches", ge=0)
    check_val_every_n_epoch: OptInt = doc(1, "validate every n epochs", ge=1)
    num_sanity_val_steps: Int = doc(2, "validation batches before training (-1 = all)", ge=-1)
    log_every_n_steps: Int = doc(1, "logging interval in steps", ge=1)
    enable_checkpointing: Bool = doc(True, "enable checkpoint callbacks")
    enable_progress_bar: Bool = doc(True, "show a progress bar")
    enable_model_summary: Bool = doc(True, "print a model summary")
    accumulate_grad_batches: Int = doc(1, "batches per optimizer step", ge=1)
    gradient_clip_val: OptNumber = doc(None, "gradient clipping value", ge=0)
    gradient_clip_algorithm: Annotated[
        Literal["norm", "value"] | None, one_of(("norm", "value", None))
    ] = doc(None, "norm or value")
    deterministic: Annotated[bool | str | None, one_of((True, False, "warn", None))] = doc(
        None, "deterministic algorithms"
    )
    benchmark: OptBool = doc(None, "cudnn.benchmark")
    inference_mode: Bool = doc(True, "use torch.inference_mode in eval")
    use_distributed_sampler: Bool = doc(True, "wrap loaders with DistributedSampler")
    profiler: Annotated[
        str | None,
        one_of(("simple", "advanced", "pytorch", "passthrough", "xla", None)),
    ] = doc(None, "profiler")
    detect_anomaly: Bool = doc(False, "autograd anomaly detection")
    barebones: Bool = doc(False, "minimal-overhead trainer")
    sync_batchnorm: Bool = doc(False, "synchronise BatchNorm across devices")
    reload_dataloaders_every_n_epochs: Int = doc(0, "reload loaders every n epochs", ge=0)
    default_root_dir: OptStr = doc(
        None, "default path for logs and weights (unused: the model dir)"
    )
