"""The DREEM training-config schema: every section and key, with types, defaults and docs.

This module is the single source of truth for the DREEM config (``config-reference.md`` and
§9 of the behaviour spec). Defaults follow the reference ``train.yaml`` / ``track.yaml`` except
where marked ``DEVIATION`` (each with the reason).
"""

from __future__ import annotations

import math

from dreem.config.nodes import Key, MapOf, Section

INF = math.inf

# py-motmetrics metric names (``motmetrics.metrics.create().list_metrics()``, motmetrics 1.4);
# the validator checks against the installed motmetrics when it can be imported.
MOTMETRICS_NAMES = (
    "num_frames",
    "obj_frequencies",
    "pred_frequencies",
    "num_matches",
    "num_switches",
    "num_transfer",
    "num_ascend",
    "num_migrate",
    "num_false_positives",
    "num_misses",
    "num_detections",
    "num_objects",
    "num_predictions",
    "num_unique_objects",
    "track_ratios",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
    "num_fragmentations",
    "motp",
    "mota",
    "precision",
    "recall",
    "id_global_assignment",
    "idfp",
    "idfn",
    "idtp",
    "idp",
    "idr",
    "idf1",
)
# Group names accepted besides single metric names.
METRIC_GROUPS = ("all", "motmetrics", "global_tracking_accuracy")
# Legacy metric names → canonical names.
METRIC_ALIASES = {"sw_cnt": "num_switches"}

EMBEDDING_MODES = ("fixed", "learned", "off")


def _f(default, doc, *, null=False, minimum=None, maximum=None, insert=True) -> Key:
    """A float key."""
    types = ("float", "null") if null else ("float",)
    return Key(types, default, doc, minimum=minimum, maximum=maximum, insert=insert)


def _i(default, doc, *, null=False, minimum=None, maximum=None, insert=True) -> Key:
    """An int key."""
    types = ("int", "null") if null else ("int",)
    return Key(types, default, doc, minimum=minimum, maximum=maximum, insert=insert)


def _b(default, doc, *, null=False, insert=True) -> Key:
    """A bool key."""
    return Key(("bool", "null") if null else ("bool",), default, doc, insert=insert)


def _s(default, doc, *, null=False, choices=None, insert=True, value_aliases=None) -> Key:
    """A str key."""
    types = ("str", "null") if null else ("str",)
    return Key(types, default, doc, choices=choices, insert=insert, value_aliases=value_aliases)


# ----------------------------------------------------------------------------- model
MLP_CFG = Section(
    {
        "hidden_dims": _i(None, "MLP hidden-layer width; null = d_model", null=True, minimum=1),
        "num_layers": _i(2, "number of linear layers (0 = identity)", minimum=0),
        "dropout": _f(0.0, "dropout after each hidden layer", minimum=0, maximum=1),
    },
    doc="MLP projecting a multi-point embedding to d_model; required when n_points > 1",
    nullable=True,
    default_null=True,
    aliases={"hidden_dim": "hidden_dims"},  # the reference code reads hidden_dim
)

POS_EMBEDDING = Section(
    {
        "mode": Key(
            ("str", "null"),
            "learned",
            "fixed (sinusoidal), learned (lookup table) or off; 'None'/null = off",
            choices=EMBEDDING_MODES + ("None", None),
            value_aliases={"None": "off", None: "off"},
        ),
        "n_points": _i(1, "number of anchor points embedded per instance", minimum=1),
        "temperature": _f(10000.0, "sinusoid temperature (fixed mode)", minimum=0),
        "normalize": _b(True, "normalise positions before the sinusoid (fixed mode)"),
        "scale": _f(None, "scale after normalising; null = 2*pi (fixed mode)", null=True),
        "emb_num": _i(16, "lookup-table size (learned mode)", minimum=1),
        "over_boxes": _b(True, "embed the 4 box coordinates (true) or centre+size (false)"),
        "mlp_cfg": MLP_CFG,
    },
    doc="spatial (box) embedding; null disables it (mode off)",
    nullable=True,
    null_as={"mode": "off"},
)

TEMP_EMBEDDING = Section(
    {
        # DEVIATION: train.yaml uses mode 'learned', but the learned temporal table is indexed
        # by integer frame offsets (spec §3.2 [bug]) and only tells frame 0 from the rest; the
        # fixed sinusoid distinguishes every offset. The model owner may revisit this.
        "mode": Key(
            ("str", "null"),
            "fixed",
            "fixed (sinusoidal), learned (lookup table) or off; 'None'/null = off",
            choices=EMBEDDING_MODES + ("None", None),
            value_aliases={"None": "off", None: "off"},
        ),
        "temperature": _f(10000.0, "sinusoid temperature (fixed mode)", minimum=0),
        "emb_num": _i(16, "lookup-table size (learned mode)", minimum=1),
    },
    doc="temporal (frame offset) embedding; null disables it (mode off)",
    nullable=True,
    null_as={"mode": "off"},
)

EMBEDDING_META = Section(
    {
        "pos": POS_EMBEDDING,
        "temp": TEMP_EMBEDDING,
        "embedding_agg_method": _s(
            "average",
            "how pos and temp embeddings are combined (the reference implements only average)",
            choices=("average", "stack", "concatenate"),
        ),
        "use_fourier": _b(False, "concatenate Fourier features of positions to visual features"),
    },
    doc="spatiotemporal embeddings; null disables both",
    nullable=True,
    null_as={"pos": {"mode": "off"}, "temp": {"mode": "off"}},
)

ENCODER_CFG = Section(
    {
        "model_name": _s("resnet18", "backbone name (timm.list_models(); torchvision: resnets)"),
        "backend": _s(
            "timm",
            "library providing the backbone ('torch' → torchvision)",
            choices=("timm", "torchvision", "torch"),
            value_aliases={"torch": "torchvision"},
        ),
        "in_chans": _i(
            3, "input channels (3 × number of anchors for multi-anchor crops)", minimum=1
        ),
        "pretrained": _b(False, "load pretrained backbone weights"),
        "encoder_type": _s(
            None,
            "alternative encoder family; null = backbone from model_name",
            null=True,
            choices=("resnet", "descriptor", "dino", None),
        ),
        "encoder_type_args": Key(
            ("dict", "null"), None, "kwargs for the encoder_type class (other keys ignored)"
        ),
        "ndim": _i(5, "descriptor feature size (descriptor encoder / Fourier path)", minimum=1),
    },
    doc="visual encoder; unknown keys are passed to the backbone constructor",
    open=True,
)

MODEL = Section(
    {
        "ckpt_path": _s(None, "checkpoint to initialise from (resume / fine-tune)", null=True),
        "d_model": _i(128, "embedding size of the transformer", minimum=1),
        "nhead": _i(1, "attention heads per transformer layer", minimum=1),
        "num_encoder_layers": _i(1, "transformer encoder layers", minimum=0),
        "num_decoder_layers": _i(1, "transformer decoder layers", minimum=1),
        "dropout": _f(0.1, "dropout in the transformer layers", minimum=0, maximum=1),
        "activation": _s("relu", "transformer activation", choices=("relu", "gelu", "glu")),
        "return_intermediate_dec": _b(True, "return (and train on) every decoder layer"),
        "norm": _b(False, "LayerNorm on encoder/decoder outputs"),
        "num_layers_attn_head": _i(1, "MLP layers in the attention head", minimum=1),
        "dropout_attn_head": _f(0.1, "dropout in the attention head", minimum=0, maximum=1),
        "return_embedding": _b(False, "also return the spatiotemporal embeddings"),
        "decoder_self_attn": _b(True, "self-attention in the decoder"),
        "embedding_meta": EMBEDDING_META,
        "encoder_cfg": ENCODER_CFG,
    },
    doc="Global Tracking Transformer",
)

# ----------------------------------------------------------------------------- training
LOSS = Section(
    {
        "neg_unmatched": _b(False, "assign unmatched detections to the background"),
        "epsilon": _f(1e-4, "numerical floor to avoid division by zero", minimum=0),
        "asso_weight": _f(1.0, "weight of the association loss", minimum=0),
    },
    doc="association loss",
)

OPTIMIZER = Section(
    {
        "name": _s("Adam", "torch.optim class name (exact, case-sensitive)"),
        "lr": _f(1e-4, "learning rate", minimum=0),
        "betas": Key(("list",), [0.9, 0.999], "Adam betas", items=("float",), insert="Adam"),
        "eps": _f(1e-8, "denominator term for numerical stability", minimum=0, insert="Adam"),
        "weight_decay": _f(0.01, "weight decay (L2 penalty)", minimum=0, insert="Adam"),
    },
    doc="optimizer; other keys are kwargs of the torch.optim class",
    open=True,
)

SCHEDULER = Section(
    {
        "name": Key(
            ("str", "list"),
            "ReduceLROnPlateau",
            "torch.optim.lr_scheduler class name, or a list → SequentialLR (kwargs under "
            "'0', '1', ... and milestones)",
            items=("str",),
        ),
        "mode": _s(
            "min",
            "min or max (ReduceLROnPlateau)",
            choices=("min", "max"),
            insert="ReduceLROnPlateau",
        ),
        "factor": _f(0.5, "lr multiplier on plateau", minimum=0, insert="ReduceLROnPlateau"),
        "patience": _i(
            5,
            "epochs without improvement before reducing lr",
            minimum=0,
            insert="ReduceLROnPlateau",
        ),
        "threshold": _f(1e-3, "minimum significant change", minimum=0, insert="ReduceLROnPlateau"),
        "threshold_mode": _s(
            "rel", "rel or abs", choices=("rel", "abs"), insert="ReduceLROnPlateau"
        ),
        "milestones": Key(
            ("list",), None, "SequentialLR switch epochs (list name)", items=("int",), insert=False
        ),
    },
    doc="learning-rate scheduler (monitors val_loss per epoch); null = constant lr; other keys "
    "are kwargs of the scheduler class",
    open=True,
    nullable=True,
)

# ----------------------------------------------------------------------------- tracker
TRACKER = Section(
    {
        "window_size": _i(8, "appearances per track kept as context", minimum=1),
        "use_vis_feats": _b(True, "use visual features (kept for compatibility)"),
        "overlap_thresh": _f(0.01, "trajectory overlap threshold for assignment", minimum=0),
        "mult_thresh": _b(True, "weight the overlap threshold"),
        "decay_time": _f(
            None, "exponential decay of older context; null = none", null=True, minimum=0
        ),
        "iou": _s(
            "mult",
            "how box IoU enters association: mult, max, or null/'' for none",
            null=True,
            choices=("mult", "max", "", None),
            value_aliases={"": None},
        ),
        "max_center_dist": _f(
            None, "max centroid distance for a match; null = no limit", null=True, minimum=0
        ),
        "persistent_tracking": _b(True, "keep the track queue across clips of one video"),
        "clip_length": _i(
            None,
            "frames per clip when persistent_tracking is false; null = test clip_length",
            null=True,
            minimum=1,
        ),
        "max_gap": Key(
            ("int", "float", "null"),
            INF,
            "frames a track may be missing before it ends; null/.inf = no limit",
            minimum=0,
            value_aliases={None: INF},
        ),
        "max_tracks": Key(
            ("int", "float", "null"),
            INF,
            "maximum simultaneous tracks; null/.inf = no limit",
            minimum=1,
            value_aliases={None: INF},
        ),
        "temperature": _f(0.1, "softmax temperature of association scores", minimum=0),
        "confidence_threshold": _f(
            0.0, "below this confidence a detection starts a new track", minimum=0, maximum=1
        ),
        "distance_penalty_multiplier": _f(
            1.0, "weight of the centroid-distance penalty", minimum=0
        ),
        "max_angle_diff": _f(
            0.0, "max heading change in degrees (0 = off; null = no limit)", null=True, minimum=0
        ),
        "angle_diff_penalty_multiplier": _f(1.0, "weight of the heading penalty", minimum=0),
        "front_nodes": Key(
            ("list", "str", "null"), None, "nodes marking the animal's front", items=("str",)
        ),
        "back_nodes": Key(
            ("list", "str", "null"), None, "nodes marking the animal's back", items=("str",)
        ),
        "enable_crop_saving": _b(False, "keep crops on tracked instances (for saving)"),
        "verbose": _b(False, "log per-frame tracking details"),
    },
    doc="tracker used at inference (sliding window + Hungarian)",
)

# ----------------------------------------------------------------------------- runner
RUNNER = Section(
    {
        "metrics": Section(
            {
                "train": Key(("list", "str"), [], "metrics during training", items=("str",)),
                # DEVIATION: reference val tracking was removed; empty keeps validation cheap.
                "val": Key(
                    ("list", "str"),
                    [],
                    "metrics during validation (logged val_<name>)",
                    items=("str",),
                ),
                "test": Key(("list", "str"), ["all"], "metrics at test time", items=("str",)),
            },
            doc="tracking metrics per split (legacy alias sw_cnt → num_switches)",
        ),
        "persistent_tracking": Section(
            {
                "train": _b(False, "track across clips during training"),
                "val": _b(True, "track across clips during validation"),
                "test": _b(True, "track across clips during testing"),
            },
            doc="whether the track queue persists across clips, per split",
        ),
        "test_save_path": _s("./test_results.h5", "where test results are written"),
        "save_frame_meta": _b(False, "save per-frame metadata with test results"),
    },
    doc="extra GTRRunner options",
)

# ----------------------------------------------------------------------------- dataset
DATA_DIR = Section(
    {
        "path": Key(
            ("str", "list", "null"), None, "directory (or list) holding the data", items=("str",)
        ),
        "labels_suffix": _s(".slp", "labels file extension (.slp, .csv, .xml, .tif)"),
        "vid_suffix": _s(".mp4", "video file extension (.mp4, .avi, .tif)"),
    },
    doc="discover labels/videos in a directory (paired by file stem)",
)

DEFAULT_AUGMENTATIONS = {
    "GaussianBlur": {"blur_limit": [3, 7], "p": 0.2},
    "MotionBlur": {"blur_limit": [3, 7], "p": 0.2},
    "RandomBrightnessContrast": {"brightness_limit": 0.1, "contrast_limit": 0.3, "p": 0.3},
    "Rotate": {"limit": 45, "p": 0.3},
}

_PATHS = ("list", "str", "null")


def dataset_section(mode: str, *, augment: bool, default_null: bool) -> Section:
    """Schema of one ``dataset.<mode>_dataset`` section."""
    return Section(
        {
            "dir": DATA_DIR,
            "slp_files": Key(_PATHS, None, ".slp label files (override dir)", items=("str",)),
            "video_files": Key(_PATHS, None, "videos aligned with slp_files", items=("str",)),
            # DEVIATION: train.yaml pads by 0 and SleapDataset by 5; we keep train.yaml's 0.
            "padding": _i(0, "pixels added to each side of the crop box", minimum=0),
            "crop_size": Key(
                ("int", "list"),
                128,
                "crop side in pixels (or list per dir)",
                items=("int",),
                minimum=1,
            ),
            "chunk": _b(True, "split videos into clips"),
            "clip_length": _i(32, "frames per clip", minimum=1),
            # DEVIATION: the reference leaves mode 'train' for every split, shuffling
            # instances at inference; we default each split to its own mode.
            "mode": _s(
                mode,
                "train, val or test (augmentation/shuffling only in train)",
                choices=("train", "val", "test"),
            ),
            "n_chunks": Key(
                ("int", "float"), 1.0, "chunks to use: fraction in (0, 1] or a count", minimum=0
            ),
            "seed": _i(None, "sampling seed; null = top-level seed", null=True),
            "gt_list": Key(_PATHS, None, "CTC man_track.txt path(s)", items=("str",)),
            "anchors": Key(
                ("str", "list", "int"),
                "centroid",
                "node(s) to centre crops on, or a count of random nodes",
                items=("str",),
            ),
            "handle_missing": _s(
                "centroid",
                "instance missing its anchor: drop, ignore (NaN box) or centroid",
                choices=("drop", "ignore", "centroid"),
            ),
            "augmentations": MapOf(
                Key(("dict", "null"), None, "albumentations kwargs (null = none)"),
                doc="albumentations class name (or NodeDropout/InstanceDropout) → kwargs; "
                "train mode only",
                default=DEFAULT_AUGMENTATIONS if augment else None,
                nullable=True,
            ),
            "normalize_image": _b(True, "scale integer images to [0, 1]"),
            "max_batching_gap": _i(15, "annotated-frame gap that splits clips", minimum=0),
            "use_tight_bbox": _b(False, "tight keypoint/mask boxes instead of square crops"),
            "dilation_radius_px": Key(
                ("int", "float", "list"),
                0,
                "mask crops to this radius around keypoints (0 = off)",
                items=("int", "float"),
                minimum=0,
            ),
            "max_detection_overlap": _f(
                0.0, "non-max suppression IoM threshold (0 = off)", minimum=0, maximum=1
            ),
            "max_tracks": Key(
                ("int", "float", "null"),
                INF,
                "keep at most this many detections per frame; null/.inf = all",
                minimum=1,
                value_aliases={None: INF},
            ),
            "raw_images": Key(("list", "null"), None, "CTC raw frames (per video)"),
            "gt_images": Key(("list", "null"), None, "CTC label masks (per video)"),
            "videos": Key(_PATHS, None, "microscopy videos (tif stacks)"),
            "tracks": Key(_PATHS, None, "microscopy label files (.csv/.xml)", items=("str",)),
            "source": _s(
                None,
                "label format of tracks",
                null=True,
                choices=("trackmate", "icy", "isbi", None),
            ),
            "apply_mask_to_crop": _b(False, "zero pixels outside the instance mask (CTC)"),
            "truncate_labels": _b(
                False, "tables only: drop detections past the last frame instead of failing"
            ),
            "ctc_track_meta": Key(_PATHS, None, "CTC man_track.txt per video", items=("str",)),
            "detection_iou_threshold": _f(
                None, "documented by the reference, unimplemented", null=True, minimum=0, maximum=1
            ),
            "verbose": _b(False, "log dataset details"),
        },
        doc=f"{mode} dataset" + ("" if mode == "train" else "; null = not used"),
        nullable=default_null,
        default_null=default_null,
    )


DATASET = Section(
    {
        "train_dataset": dataset_section("train", augment=True, default_null=False),
        # val/test are optional: null (default) means the split is not used.
        "val_dataset": dataset_section("val", augment=False, default_null=True),
        "test_dataset": dataset_section("test", augment=False, default_null=True),
    },
    doc="datasets per split",
)


def dataloader_section(shuffle: bool) -> Section:
    """Schema of one ``dataloader.<split>_dataloader`` section."""
    return Section(
        {
            "shuffle": _b(shuffle, "reshuffle clips every epoch"),
            "num_workers": _i(0, "loader subprocesses (0 = main process)", minimum=0),
            "pin_memory": _b(None, "pin host memory; null = true iff num_workers > 0", null=True),
            "persistent_workers": _b(False, "keep workers alive between epochs"),
            "prefetch_factor": _i(None, "batches prefetched per worker", null=True, minimum=1),
            "drop_last": _b(False, "drop the last incomplete batch"),
            "timeout": _f(0.0, "seconds to wait for a worker batch (0 = forever)", minimum=0),
        },
        doc="torch DataLoader kwargs (batch_size is fixed to 1 clip); others pass through",
        open=True,
    )


DATALOADER = Section(
    {
        "train_dataloader": dataloader_section(True),
        "val_dataloader": dataloader_section(False),
        "test_dataloader": dataloader_section(False),
    },
    doc="data loaders per split",
)

# ----------------------------------------------------------------------------- logging etc.
LOGGER_TYPES = ("CSVLogger", "TensorBoardLogger", "WandbLogger", "MLFlowLogger", None)

LOGGING = Section(
    {
        "logger_type": _s(
            None, "Lightning logger class; null = no logger", null=True, choices=LOGGER_TYPES
        ),
        "name": _s("dreem_train", "run name"),
        "save_dir": _s("./logs", "directory for logger output"),
        "version": Key(("str", "int", "null"), None, "run version / id", insert=False),
        "project": _s(None, "W&B project", null=True, insert=False),
        "entity": _s(None, "W&B entity", null=True, insert=False),
        "group": _s(None, "W&B group", null=True, insert=False),
        "log_model": Key(("bool", "str"), False, "W&B: log checkpoints", insert=False),
        "notes": _s(None, "W&B run notes", null=True, insert=False),
        "tracking_uri": _s(None, "MLflow tracking URI", null=True, insert=False),
        "experiment_name": _s(None, "MLflow experiment", null=True, insert=False),
    },
    doc="experiment logger; null = no logger; other keys are logger kwargs",
    open=True,
    nullable=True,
    null_as={"logger_type": None},
)

EARLY_STOPPING = Section(
    {
        "monitor": _s("val_loss", "quantity to monitor"),
        "min_delta": _f(0.1, "smallest change counted as improvement", minimum=0),
        "patience": _i(10, "checks without improvement before stopping", minimum=0),
        "mode": _s("min", "min or max", choices=("min", "max")),
        "check_finite": _b(True, "stop when the monitored value is NaN/inf"),
        "stopping_threshold": _f(1e-8, "stop once the monitor reaches this", null=True),
        "divergence_threshold": _f(None, "stop once the monitor is worse than this", null=True),
        "verbose": _b(False, "log early-stopping decisions"),
    },
    # DEVIATION: train.yaml enables early stopping (min_delta 0.1 on val_loss), which stops
    # small models long before max_epochs; we default to off so runs are exactly max_epochs.
    doc="early stopping; null (default) = off",
    nullable=True,
    default_null=True,
)

CHECKPOINTING = Section(
    {
        "monitor": Key(
            ("list", "str"), ["val_loss"], "metrics to keep best checkpoints for", items=("str",)
        ),
        "verbose": _b(True, "log checkpoint saves"),
        "save_last": Key(
            ("bool", "str"), True, "also save last.ckpt (or 'link')", choices=(True, False, "link")
        ),
        "dirpath": _s(None, "checkpoint directory; null = ./models/<group>/<name>", null=True),
        "auto_insert_metric_name": _b(True, "put the metric name in file names"),
        "every_n_epochs": _i(1, "epochs between checkpoints", null=True, minimum=0),
        "save_top_k": _i(-1, "best k checkpoints kept (-1 = all)", minimum=-1),
        "filename": _s(None, "file name template; null = {epoch}-{<metric>}", null=True),
    },
    doc="one ModelCheckpoint per monitored metric",
)

TRAINER = Section(
    {
        "accelerator": _s(
            "auto",
            "cpu, gpu, cuda, mps, tpu, ... or auto",
            choices=("auto", "cpu", "gpu", "cuda", "mps", "tpu", "ipu", "hpu"),
        ),
        "strategy": _s("auto", "training strategy"),
        "devices": Key(
            ("int", "str", "list"), 1, "device count, indices, -1 or 'auto'", items=("int",)
        ),
        "num_nodes": _i(1, "number of nodes", minimum=1),
        "precision": Key(
            ("str", "int", "null"),
            None,
            "e.g. 32-true, 16-mixed, bf16-mixed",
            choices=(
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
            ),
        ),
        "fast_dev_run": Key(("bool", "int"), False, "run n batches as a smoke test"),
        "max_epochs": _i(20, "stop after this many epochs (-1 = unlimited)", null=True, minimum=-1),
        "min_epochs": _i(1, "train at least this many epochs", null=True, minimum=0),
        "max_steps": _i(-1, "stop after this many steps (-1 = unlimited)", minimum=-1),
        "min_steps": _i(None, "train at least this many steps", null=True, minimum=0),
        "max_time": Key(("str", "dict", "null"), None, "wall-time limit DD:HH:MM:SS"),
        "limit_train_batches": Key(
            ("int", "float"), 1.0, "fraction (float) or count (int)", minimum=0
        ),
        "limit_val_batches": Key(
            ("int", "float"), 1.0, "fraction (float) or count (int)", minimum=0
        ),
        "limit_test_batches": Key(
            ("int", "float"), 1.0, "fraction (float) or count (int)", minimum=0
        ),
        "limit_predict_batches": Key(
            ("int", "float"), 1.0, "fraction (float) or count (int)", minimum=0
        ),
        "overfit_batches": Key(("int", "float"), 0.0, "overfit on this many batches", minimum=0),
        "val_check_interval": Key(
            ("int", "float", "null"), None, "validate every n batches", minimum=0
        ),
        "check_val_every_n_epoch": _i(1, "validate every n epochs", null=True, minimum=1),
        "num_sanity_val_steps": _i(2, "validation batches before training (-1 = all)", minimum=-1),
        "log_every_n_steps": _i(1, "logging interval in steps", minimum=1),
        "enable_checkpointing": _b(True, "enable checkpoint callbacks"),
        "enable_progress_bar": _b(True, "show a progress bar"),
        "enable_model_summary": _b(True, "print a model summary"),
        "accumulate_grad_batches": _i(1, "batches per optimizer step", minimum=1),
        "gradient_clip_val": Key(
            ("int", "float", "null"), None, "gradient clipping value", minimum=0
        ),
        "gradient_clip_algorithm": _s(
            None, "norm or value", null=True, choices=("norm", "value", None)
        ),
        "deterministic": Key(
            ("bool", "str", "null"),
            None,
            "deterministic algorithms",
            choices=(True, False, "warn", None),
        ),
        "benchmark": _b(None, "cudnn.benchmark", null=True),
        "inference_mode": _b(True, "use torch.inference_mode in eval"),
        "use_distributed_sampler": _b(True, "wrap loaders with DistributedSampler"),
        "profiler": _s(
            None,
            "profiler",
            null=True,
            choices=("simple", "advanced", "pytorch", "passthrough", "xla", None),
        ),
        "detect_anomaly": _b(False, "autograd anomaly detection"),
        "barebones": _b(False, "minimal-overhead trainer"),
        "sync_batchnorm": _b(False, "synchronise BatchNorm across devices"),
        "reload_dataloaders_every_n_epochs": _i(0, "reload loaders every n epochs", minimum=0),
        "default_root_dir": _s(None, "default path for logs and weights", null=True),
    },
    doc="lightning.Trainer kwargs",
)

VIEW_BATCH = Section(
    {
        "enable": _b(False, "visualise a batch before training (legacy, unused)"),
        "num_frames": _i(0, "frames to visualise (legacy, unused)", minimum=0),
        "no_train": _b(False, "skip training after visualising (legacy, unused)"),
    },
    doc="legacy batch viewer (accepted, unused)",
    nullable=True,
)

TOP_METRICS = Section(
    {"test": Key(("list", "str"), ["all"], "metrics for dreem eval", items=("str",))},
    doc="evaluation metrics (inference/eval)",
    nullable=True,
)

# ----------------------------------------------------------------------------- root
DREEM_SCHEMA = Section(
    {
        "seed": _i(42, "seed for Python, NumPy and torch", null=True),
        "model": MODEL,
        "loss": LOSS,
        "optimizer": OPTIMIZER,
        "scheduler": SCHEDULER,
        "tracker": TRACKER,
        "runner": RUNNER,
        "dataset": DATASET,
        "dataloader": DATALOADER,
        "logging": LOGGING,
        "early_stopping": EARLY_STOPPING,
        "checkpointing": CHECKPOINTING,
        "trainer": TRAINER,
        "ckpt_path": _s(
            None, "checkpoint for track/eval (path or pretrained shortname)", null=True
        ),
        "outdir": _s("./results", "output directory for track/eval"),
        "output_format": _s(
            "native", "track output: native, csv or both", choices=("native", "csv", "both")
        ),
        "save_frame_meta": _b(False, "save per-frame metadata (track/eval)"),
        "metrics": TOP_METRICS,
        "params_config": _s(None, "YAML merged over this config when loading", null=True),
        "view_batch": VIEW_BATCH,
    },
    doc="DREEM config",
)

SECTIONS = tuple(DREEM_SCHEMA.keys)

# ----------------------------------------------------------------------------- unsupported
# Keys accepted (so reference configs load) whose non-default values dreem-pipeline cannot
# honour: path (``*`` = every dataset split) -> (accepted values, reason). Validation raises
# "<path>: <value> is not supported by dreem-pipeline (<reason>)" for any other value.
UNSUPPORTED: dict[str, tuple[tuple, str]] = {
    "model.return_embedding": (
        (False,),
        "embeddings are not returned; tracking only needs association scores",
    ),
    "tracker.enable_crop_saving": ((False,), "crops are not kept on tracked instances"),
    "runner.metrics.train": (([],), "no tracking metrics are computed on training batches"),
    "runner.persistent_tracking.train": ((False,), "training batches are not tracked"),
    "runner.persistent_tracking.test": (
        (True,),
        "test tracking follows tracker.persistent_tracking; set that instead",
    ),
    "runner.test_save_path": (
        ("./test_results.h5",),
        "results are written as tracks tables and metric CSVs under the output directory",
    ),
    "runner.save_frame_meta": ((False,), "no per-frame metadata file is written"),
    "save_frame_meta": ((False,), "no per-frame metadata file is written"),
    "ckpt_path": (
        (None,),
        "give the checkpoint as the MODEL argument of `dreem track`/`dreem eval` or in the "
        "pipeline config's `models`",
    ),
    "outdir": (
        ("./results",),
        "give the output folder with `--out` or the pipeline config's `output_dir`",
    ),
    "view_batch.enable": ((False,), "there is no batch viewer"),
    "dataset.*.normalize_image": (
        (True,),
        "crops are always scaled to [0, 1] by the video's intensity range",
    ),
    "dataset.*.detection_iou_threshold": (
        (None,),
        "it is documented but unimplemented in the reference too; see max_detection_overlap",
    ),
}
