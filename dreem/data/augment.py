"""Training augmentations on crops: any albumentations transform, plus instance/node dropout.

Crops are cut once at extraction, so augmentations act on crops, not on whole frames.
Design (differs from the reference, which augments the whole frame before cropping):

* Each instance gets its own random draw; the crops of all anchors of one instance share it
  (albumentations ``additional_targets``), so multi-anchor crops stay consistent.
* The anchor is a keypoint at the crop's centre pixel ``(S // 2, S // 2)`` (pixel centres at
  integer coordinates, albumentations' convention). A geometric transform moves pixels and
  that keypoint together; the instance's box is then shifted by the keypoint's displacement
  ``(dx, dy)`` (in frame pixels), i.e. the augmented crop is treated as if the animal had
  moved by that much inside a fixed window, and the box follows the animal. Rotations and
  flips about the crop centre move it by at most a pixel; ``Affine``/``ShiftScaleRotate``
  translations move it fully. Transforms that change the crop size are rejected.
* ``InstanceDropout {p, n}``: per frame, each instance is dropped with probability ``p``, at
  most ``n`` per frame. ``NodeDropout {p, n}``: per instance, each anchor is a candidate with
  probability ``p``; up to ``n`` candidates (those with the largest draws) are blanked —
  zero crop, NaN box. ``p = 1`` blanks exactly ``min(n, n_anchors)``.
* Randomness comes only from the ``numpy.random.Generator`` passed in (the dataset derives
  it from its seed, the epoch and the item index), so runs are reproducible.
"""

from __future__ import annotations

import difflib
import inspect
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from dreem.utils.errors import ConfigError

DROPOUTS = ("InstanceDropout", "NodeDropout")
UPDATE_CHECK_ENV = "NO_ALBUMENTATIONS_UPDATE"


def albumentations() -> ModuleType:
    """The ``albumentations`` module, imported without its update check.

    Importing albumentations (2.x) asks PyPI whether a newer version exists, synchronously,
    with a 2 s timeout: 0.03-0.1 s here, but on a compute node whose outbound connections are
    dropped the import takes 2 s longer (3.9 s instead of 1.9 s, simulated), in every
    training process, and warns in its log. Its documented switch turns that off unless the
    user set it."""
    os.environ.setdefault(UPDATE_CHECK_ENV, "1")
    import albumentations as A

    return A


def albumentations_names() -> list[str]:
    """Names of all albumentations transform classes."""
    A = albumentations()

    base = A.BasicTransform
    return sorted(
        n for n in dir(A) if isinstance(getattr(A, n), type) and issubclass(getattr(A, n), base)
    )


@dataclass(frozen=True)
class Dropout:
    """Probability ``p`` and maximum count ``n`` of a dropout augmentation."""

    p: float = 0.0
    n: int = 0

    @property
    def active(self) -> bool:
        return self.p > 0 and self.n > 0


def _dropout(kwargs, key: str) -> Dropout:
    kwargs = dict(kwargs or {})
    unknown = set(kwargs) - {"p", "n"}
    if unknown:
        raise ConfigError(f"{key}: unknown parameter(s) {sorted(unknown)}; expected p and n")
    p, n = kwargs.get("p", 0.0), kwargs.get("n", 0)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
        raise ConfigError(f"{key}.p: expected a probability in [0, 1], got {p!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"{key}.n: expected an int >= 0, got {n!r}")
    return Dropout(float(p), int(n))


class CropAugmenter:
    """Apply albumentations transforms and dropouts to the crops of one clip."""

    def __init__(
        self,
        transforms: list,
        instance_dropout: Dropout = Dropout(),
        node_dropout: Dropout = Dropout(),
    ):
        self.transforms = list(transforms)
        self.instance_dropout = instance_dropout
        self.node_dropout = node_dropout
        self._compose = None
        self._n_targets = 0

    def _composed(self, n_anchors: int):
        A = albumentations()

        if self._compose is None or self._n_targets != n_anchors:
            extra = {f"image{k}": "image" for k in range(1, n_anchors)}
            with warnings.catch_warnings():  # "no transform to process keypoints": harmless
                warnings.simplefilter("ignore", UserWarning)
                self._compose = A.Compose(
                    self.transforms,
                    keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
                    additional_targets=extra,
                )
            self._n_targets = n_anchors
        return self._compose

    def __call__(
        self,
        crops: np.ndarray,
        boxes: np.ndarray,
        frame_idx: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Augment one clip.

        ``crops`` ``(N, A, C, H, W)`` float32 in [0, 1] (C = 3), ``boxes`` ``(N, A, 4)``
        pixels, ``frame_idx`` ``(N,)``. Returns ``(crops, boxes, keep)`` where ``keep`` is the
        boolean mask of instances surviving InstanceDropout (crops/boxes are not yet filtered).
        """
        crops = crops.copy()
        boxes = boxes.copy()
        keep = self._instance_dropout(frame_idx, rng)
        if self.transforms:
            self._apply_transforms(crops, boxes, keep, rng)
        if self.node_dropout.active:
            for i in np.flatnonzero(keep):
                drop = node_dropout_indices(crops.shape[1], self.node_dropout, rng)
                crops[i, drop] = 0.0
                boxes[i, drop] = np.nan
        return crops, boxes, keep

    def _instance_dropout(self, frame_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        keep = np.ones(len(frame_idx), bool)
        d = self.instance_dropout
        if not d.active:
            return keep
        for f in np.unique(frame_idx):
            rows = np.flatnonzero(frame_idx == f)
            hit = rows[rng.random(len(rows)) < d.p]
            keep[hit[: d.n]] = False
        return keep

    def _apply_transforms(self, crops, boxes, keep, rng) -> None:
        n, a, c, h, w = crops.shape
        compose = self._composed(a)
        compose.set_random_seed(int(rng.integers(0, 2**31 - 1)))
        centre = np.array([[w // 2, h // 2]], np.float32)
        for i in np.flatnonzero(keep):
            imgs = {"image": np.ascontiguousarray(crops[i, 0].transpose(1, 2, 0))}
            for k in range(1, a):
                imgs[f"image{k}"] = np.ascontiguousarray(crops[i, k].transpose(1, 2, 0))
            out = compose(**imgs, keypoints=centre)
            for k in range(a):
                img = out["image" if k == 0 else f"image{k}"]
                if img.ndim == 2:
                    img = img[:, :, None]
                if img.shape[:2] != (h, w):
                    raise ConfigError(
                        f"augmentations: a transform changed the crop size from {h}x{w} to "
                        f"{img.shape[0]}x{img.shape[1]}; only size-preserving ones are allowed"
                    )
                crops[i, k] = np.clip(img, 0.0, 1.0).transpose(2, 0, 1)
            dx, dy = (np.asarray(out["keypoints"], np.float32)[0] - centre[0]).tolist()
            boxes[i, :, [0, 2]] += dy
            boxes[i, :, [1, 3]] += dx


def node_dropout_indices(n_anchors: int, d: Dropout, rng: np.random.Generator) -> np.ndarray:
    """Anchors to blank: candidates with draw < p, at most ``n`` with the largest draws."""
    if not d.active or n_anchors == 0:
        return np.zeros(0, np.int64)
    u = rng.random(n_anchors)
    cand = np.flatnonzero(u < d.p)
    order = cand[np.argsort(-u[cand], kind="stable")]
    return np.sort(order[: d.n])


def build_augmentations(spec: Mapping | None, key: str = "augmentations") -> CropAugmenter | None:
    """Build a :class:`CropAugmenter` from ``{ClassName: {kwargs}}`` (``None`` if empty).

    Class names are albumentations transforms (exact names) or ``InstanceDropout`` /
    ``NodeDropout``. Unknown names and bad kwargs raise :class:`ConfigError` naming
    ``{key}.{ClassName}``; unknown names get the closest valid names suggested.
    """
    if not spec:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{key}: expected a mapping of transform name -> parameters")
    A = albumentations()

    transforms = []
    dropouts = {name: Dropout() for name in DROPOUTS}
    names = None
    for name, kwargs in spec.items():
        path = f"{key}.{name}"
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise ConfigError(f"{path}: expected a mapping of parameters, got {kwargs!r}")
        if name in DROPOUTS:
            dropouts[name] = _dropout(kwargs, path)
            continue
        cls = getattr(A, str(name), None)
        if not (isinstance(cls, type) and issubclass(cls, A.BasicTransform)):
            names = names or albumentations_names()
            close = difflib.get_close_matches(str(name), names + list(DROPOUTS), n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"{path}: unknown augmentation {name!r}{hint}")
        transforms.append(_instantiate(cls, dict(kwargs or {}), path))
    aug = CropAugmenter(transforms, dropouts["InstanceDropout"], dropouts["NodeDropout"])
    if transforms:
        _dry_run(aug, key)
    return aug


def _instantiate(cls, kwargs: dict, path: str):
    """``cls(**kwargs)``; unknown or invalid parameters raise :class:`ConfigError`."""
    sig = inspect.signature(cls.__init__).parameters
    params = [
        n for n, p in sig.items() if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in sig.values())
    for name in [] if open_kwargs else kwargs:
        if name not in params:
            close = difflib.get_close_matches(str(name), params, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(
                f"{path}.{name}: unknown parameter of {cls.__name__} "
                f"(valid: {', '.join(params)}){hint}"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            return cls(**kwargs)
    except Exception as e:  # albumentations validates kwargs with pydantic / TypeError
        raise ConfigError(f"{path}: invalid parameters {kwargs}: {e}") from e


def _dry_run(aug: CropAugmenter, key: str) -> None:
    """Run the transforms once on a dummy crop so unsupported ones fail at build time."""
    dummy = np.full((1, 1, 3, 32, 32), 0.5, np.float32)
    boxes = np.zeros((1, 1, 4), np.float32)
    try:
        aug._apply_transforms(dummy, boxes, np.ones(1, bool), np.random.default_rng(0))
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(
            f"{key}: transforms cannot be applied to crops with a keypoint: {e}"
        ) from e
