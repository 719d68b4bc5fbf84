"""The ``dataset`` and ``dataloader`` sections (and crop settings derived from a dataset).

A :class:`DatasetSection` is one DREEM dataset section. It is also the type of a pipeline
config's dataset specs, where only the keys actually given matter (``given()``): crop
settings a spec leaves out come from the model config (see :func:`crop_params`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from annotated_types import Ge
from pydantic import BeforeValidator, WithJsonSchema

from dreem.config.base import OpenSection, Section
from dreem.config.types import (
    Bool,
    Float,
    Int,
    Limit,
    Number,
    OptBool,
    OptFloat,
    OptInt,
    OptStrList,
    Str,
    as_int,
    describe,
    doc,
    fail,
    one_of,
)


class DataDir(Section):
    """Discover labels/videos in a directory (paired by file stem)."""

    path: OptStrList = doc(None, "directory (or list) holding the data")
    labels_suffix: Str = doc(".slp", "labels file extension (.slp, .csv, .xml, .tif)")
    vid_suffix: Str = doc(".mp4", "video file extension (.mp4, .avi, .tif)")


DEFAULT_AUGMENTATIONS = {
    "GaussianBlur": {"blur_limit": [3, 7], "p": 0.2},
    "MotionBlur": {"blur_limit": [3, 7], "p": 0.2},
    "RandomBrightnessContrast": {"brightness_limit": 0.1, "contrast_limit": 0.3, "p": 0.3},
    "Rotate": {"limit": 45, "p": 0.3},
}


def _anchors(value: Any) -> Any:
    if value in ([], (), "", 0) and not isinstance(value, bool):
        raise fail("must name at least one node (or be a count > 0)")
    if isinstance(value, str):
        return value
    if (n := as_int(value)) is not None:
        return n
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise fail(f"expected a node name, a list of node names or a count, got {describe(value)}")


def _int_or_list(value: Any) -> Any:
    if (n := as_int(value)) is not None:
        if n < 1:
            raise fail(f"{n} is below the minimum 1")
        return n
    if isinstance(value, list | tuple) and value and all(as_int(v) is not None for v in value):
        if min(int(v) for v in value) < 1:
            raise fail(f"{list(value)}: every value must be >= 1")
        return [int(v) for v in value]
    raise fail(f"expected an int or a list of ints (one per dir.path), got {describe(value)}")


def _number_or_list(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise fail(f"{value} is below the minimum 0")
        return value
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        return list(value)
    raise fail(f"expected a number or a list of numbers (one per dir.path), got {value!r}")


def _augmentations(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail(f"expected a mapping of augmentation name to kwargs, got {describe(value)}")
    for name, kwargs in value.items():
        if kwargs is not None and not isinstance(kwargs, dict):
            raise fail(f"{name}: expected a mapping of kwargs or null, got {describe(kwargs)}")
    return {str(k): dict(v or {}) for k, v in value.items()}


def _any_list(value: Any) -> Any:
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    raise fail(f"expected a list or null, got {describe(value)}")


def _json(schema: dict) -> WithJsonSchema:
    return WithJsonSchema(schema)


_NUMS = {"type": "array", "items": {"type": "number"}}


def _align_nodes(value: Any) -> Any:
    if value is None:
        return None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, str) and v for v in value)
    ):
        return list(value)
    raise fail(f"expected [front node, back node] or null, got {describe(value)}")


AlignNodes = Annotated[
    list[str] | None,
    BeforeValidator(_align_nodes),
    _json({"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]}),
]
Anchors = Annotated[
    str | int | list[str],
    BeforeValidator(_anchors),
    _json(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "integer"},
                {"type": "array", "items": {"type": "string"}},
            ]
        }
    ),
]
CropSize = Annotated[
    int | list[Annotated[int, Ge(1)]],
    BeforeValidator(_int_or_list),
    _json({"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]}),
]
Radius = Annotated[
    float | int | list[float | int],
    BeforeValidator(_number_or_list),
    _json({"anyOf": [{"type": "number"}, _NUMS]}),
]
AnyList = Annotated[
    list | None, BeforeValidator(_any_list), _json({"anyOf": [{"type": "array"}, {"type": "null"}]})
]
Augmentations = Annotated[
    dict[str, dict] | None,
    BeforeValidator(_augmentations),
    _json({"anyOf": [{"type": "object"}, {"type": "null"}]}),
]
SplitMode = Annotated[Literal["train", "val", "test"], one_of(("train", "val", "test"))]

# Keys that decide how crops are cut (extraction params); see crop_params().
CROP_KEYS = (
    "crop_size",
    "padding",
    "anchors",
    "handle_missing",
    "use_tight_bbox",
    "apply_mask_to_crop",
    "dilation_radius_px",
    "max_detection_overlap",
    "max_tracks",
    "align_crops",
)
# Keys that decide which files pair up (discovery); everything else is not discovery's.
DISCOVERY_KEYS = (
    "dir",
    "slp_files",
    "video_files",
    "raw_images",
    "gt_images",
    "videos",
    "tracks",
    "source",
    "gt_list",
    "ctc_track_meta",
    "truncate_labels",
)


class DatasetSection(Section):
    """One dataset (a DREEM ``dataset.<split>_dataset`` section)."""

    dir: DataDir | None = doc(None, "discover labels and videos in a directory")
    slp_files: OptStrList = doc(None, ".slp label files (override dir)")
    video_files: OptStrList = doc(None, "videos aligned with slp_files")
    # DEVIATION: train.yaml pads by 0 and SleapDataset by 5; we keep train.yaml's 0.
    padding: Int = doc(0, "pixels added to each side of the crop box", ge=0)
    crop_size: CropSize = doc(128, "crop side in pixels (or a list, one per dir.path)")
    chunk: Bool = doc(True, "split videos into clips")
    clip_length: Int = doc(32, "frames per clip", ge=1)
    # DEVIATION: the reference leaves mode 'train' for every split (shuffling instances at
    # inference); each split defaults to its own mode (ValDataset, TestDataset).
    mode: SplitMode = doc("train", "train, val or test (augmentation/shuffling only in train)")
    n_chunks: Number = doc(1.0, "clips to use: a fraction in (0, 1] or a count", ge=0)
    seed: OptInt = doc(None, "sampling seed; null = the top-level seed")
    gt_list: OptStrList = doc(None, "CTC man_track.txt path(s)")
    anchors: Anchors = doc("centroid", "node(s) to centre crops on, or a count of random nodes")
    handle_missing: Annotated[
        Literal["drop", "ignore", "centroid"], one_of(("drop", "ignore", "centroid"))
    ] = doc("centroid", "instance missing its anchor: drop, ignore (NaN box) or centroid")
    augmentations: Augmentations = doc(
        None,
        "albumentations class name (or NodeDropout/InstanceDropout) → kwargs; train mode only",
    )
    normalize_image: Bool = doc(True, "scale images to [0, 1] (always on)")
    max_batching_gap: Int = doc(15, "annotated-frame gap that splits clips", ge=0)
    use_tight_bbox: Bool = doc(False, "tight keypoint/mask boxes instead of square crops")
    dilation_radius_px: Radius = doc(0, "mask crops to this radius around keypoints (0 = off)")
    max_detection_overlap: Float = doc(
        0.0, "non-max suppression IoM threshold (0 = off)", ge=0, le=1
    )
    max_tracks: Limit = doc(
        math.inf, "keep at most this many detections per frame; null/.inf = all", ge=1
    )
    raw_images: AnyList = doc(None, "CTC raw frames (per video: a folder or a list of files)")
    gt_images: AnyList = doc(None, "CTC label masks (per video)")
    videos: AnyList = doc(None, "microscopy videos (tif stacks or frame folders)")
    tracks: OptStrList = doc(None, "microscopy label files (.csv/.xml)")
    source: Annotated[
        Literal["trackmate", "icy", "isbi"] | None, one_of(("trackmate", "icy", "isbi", None))
    ] = doc(None, "label format of tracks")
    apply_mask_to_crop: Bool = doc(False, "zero pixels outside the instance mask (CTC)")
    truncate_labels: Bool = doc(
        False, "tables only: drop detections past the last frame instead of failing"
    )
    ctc_track_meta: OptStrList = doc(None, "CTC man_track.txt per video")
    detection_iou_threshold: OptFloat = doc(
        None, "documented by the reference, unimplemented", ge=0, le=1
    )
    verbose: Bool = doc(False, "log dataset details")
    align_crops: AlignNodes = doc(
        None,
        "EXTENSION: [front node, back node]: rotate each crop so the animal's body axis "
        "points up (null = axis-aligned crops, the reference)",
    )

    def has_source(self) -> bool:
        """True when the section names any data (dir, file lists, CTC or tables)."""
        return bool(
            (self.dir is not None and self.dir.path)
            or self.slp_files
            or self.raw_images
            or self.gt_images
            or self.videos
            or self.tracks
        )

    def discovery(self) -> dict[str, Any]:
        """The keys that decide which files pair up, as a plain dict (discover's params)."""
        return {k: v for k, v in self.to_dict().items() if k in DISCOVERY_KEYS}


class TrainDataset(DatasetSection):
    """The training dataset (augmented)."""

    augmentations: Augmentations = doc(
        DEFAULT_AUGMENTATIONS,
        "albumentations class name (or NodeDropout/InstanceDropout) → kwargs; null = none",
    )


class ValDataset(DatasetSection):
    """The validation dataset."""

    mode: SplitMode = doc("val", "train, val or test")


class TestDataset(DatasetSection):
    """The test dataset."""

    mode: SplitMode = doc("test", "train, val or test")


class DatasetConfig(Section):
    """Datasets per split; val and test are optional (null = the split is not used)."""

    train_dataset: TrainDataset = doc(TrainDataset(), "training dataset")
    val_dataset: ValDataset | None = doc(None, "validation dataset; null = none")
    test_dataset: TestDataset | None = doc(None, "test dataset; null = none")


class DataloaderSection(OpenSection):
    """torch DataLoader kwargs (batch_size is fixed to one clip); other keys pass through."""

    OMIT_IF_NONE = frozenset({"prefetch_factor"})

    shuffle: Bool = doc(False, "reshuffle clips every epoch")
    num_workers: Int = doc(0, "loader subprocesses (0 = main process)", ge=0)
    pin_memory: OptBool = doc(None, "pin host memory; null = true iff num_workers > 0")
    persistent_workers: Bool = doc(False, "keep workers alive between epochs")
    prefetch_factor: OptInt = doc(None, "batches prefetched per worker", ge=1)
    drop_last: Bool = doc(False, "drop the last incomplete batch")
    timeout: Float = doc(0.0, "seconds to wait for a worker batch (0 = forever)", ge=0)


class TrainDataloader(DataloaderSection):
    """The training loader (shuffled)."""

    shuffle: Bool = doc(True, "reshuffle clips every epoch")


class DataloaderConfig(Section):
    """Data loaders per split."""

    train_dataloader: TrainDataloader = doc(TrainDataloader(), "training loader")
    val_dataloader: DataloaderSection = doc(DataloaderSection(), "validation loader")
    test_dataloader: DataloaderSection = doc(DataloaderSection(), "test loader")


class CropParams(Section):
    """How crops are cut from frames: the extraction params of one dataset (and model).

    ``seed`` matters only for random anchors (an int ``anchors``). The defaults are the
    dataset section's (:class:`DatasetSection`), so there is one default per key.
    """

    crop_size: Int = doc(128, "crop side in pixels", ge=1)
    padding: Int = doc(0, "pixels added to each side of the crop box", ge=0)
    anchors: Anchors = doc("centroid", "node(s) to centre crops on, or a count of random nodes")
    handle_missing: Annotated[
        Literal["drop", "ignore", "centroid"], one_of(("drop", "ignore", "centroid"))
    ] = doc("centroid", "instance missing its anchor")
    use_tight_bbox: Bool = doc(False, "tight keypoint/mask boxes")
    apply_mask_to_crop: Bool = doc(False, "zero pixels outside the instance mask")
    dilation_radius_px: Float = doc(0.0, "mask crops around keypoints (0 = off)", ge=0)
    max_detection_overlap: Float = doc(0.0, "non-max suppression IoM threshold", ge=0, le=1)
    max_tracks: Limit = doc(math.inf, "detections kept per frame", ge=1)
    align_crops: AlignNodes = doc(None, "[front, back] nodes to align crops to (null = off)")
    seed: OptInt = doc(None, "seed for random anchors")

    def key(self) -> str:
        """A short stable name for these params (``64px-1a2b3c``), used in shard paths."""
        import hashlib
        import json

        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return f"{self.crop_size}px-{hashlib.sha256(blob).hexdigest()[:6]}"


_SECTION_DEFAULTS = DatasetSection()


def crop_params(
    spec: DatasetSection | None,
    model_section: DatasetSection | None = None,
    seed: int | None = None,
    key_path: str = "dataset",
    per_dir: int | None = None,
) -> CropParams:
    """Resolve one dataset's crop settings: keys ``spec`` gives, else ``model_section``'s
    (a model config's train_dataset, fully defaulted), else the section defaults.

    A list ``crop_size``/``dilation_radius_px`` (one per ``dir.path``) is resolved for the
    ``per_dir``-th directory. ``seed`` is used when neither section gives one.
    """
    values: dict[str, Any] = {}
    for key in (*CROP_KEYS, "seed"):
        if spec is not None and key in spec.given():
            value = getattr(spec, key)
        elif model_section is not None:
            value = getattr(model_section, key)
        else:
            value = getattr(_SECTION_DEFAULTS, key)
        if isinstance(value, list) and key in ("crop_size", "dilation_radius_px"):
            value = _one_per_dir(value, per_dir, f"{key_path}.{key}")
        values[key] = value
    if values["seed"] is None:
        values["seed"] = seed
    if not isinstance(values["anchors"], int):
        values["seed"] = None  # only random anchors use it: a new seed does not re-extract
    return CropParams.model_validate(values)


def _one_per_dir(values: list, index: int | None, key: str) -> Any:
    if len(values) == 1:
        return values[0]
    from dreem.utils.errors import ConfigError

    if index is None or not 0 <= index < len(values):
        raise ConfigError(
            f"{key}: {len(values)} values given, one per dir.path entry; cannot tell which "
            "applies here (give one value, or one per directory)"
        )
    return values[index]
