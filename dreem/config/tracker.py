"""The ``tracker`` section: sliding-window tracker used at inference (and validation)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import field_validator

from dreem.config.base import Section
from dreem.config.types import (
    Bool,
    Float,
    Int,
    Limit,
    OptFloat,
    OptInt,
    OptStrList,
    doc,
    one_of,
)


class MotionConfig(Section):
    """EXTENSION: motion prediction per track — a constant-velocity Kalman filter over each
    track's centroid (and a random walk over its box size). With ``model: kalman`` the
    tracker compares detections with each track's *predicted* box and centroid (IoU
    re-weighting, ``max_center_dist``) instead of its last one; the ``motion`` baseline
    always predicts. Noise levels are in pixels per frame."""

    model: Annotated[Literal["none", "kalman"], one_of(("none", "kalman"))] = doc(
        "none", "none: compare with the last box (the reference); kalman: the predicted one"
    )
    accel_std: Float = doc(6.0, "std of the random acceleration (px / frame^2)", ge=0)
    meas_std: Float = doc(1.0, "std of a measured centroid (px)", ge=0)
    size_std: Float = doc(0.5, "std of the per-frame box size change (px)", ge=0)
    init_vel_std: Float = doc(20.0, "std of a new track's unknown velocity (px / frame)", ge=0)
    velocity_decay: Float = doc(
        1.0, "velocity kept per frame of a gap (1 = constant velocity)", gt=0, le=1
    )
    gate_sigma: OptFloat = doc(
        3.0,
        "kalman: detections farther than this many standard deviations from a track's "
        "predicted position get a soft penalty (the uncertainty grows over gaps); null = none",
        gt=0,
    )
    penalty_multiplier: Float = doc(1.0, "weight of that motion penalty", ge=0)


class SwapRepairConfig(Section):
    """EXTENSION: undo short identity swaps after tracking a video, using the frames after
    them (dreem.inference.smoothing): two tracks exchange ids inside a stretch of up to
    ``max_len`` frames when their positions (poses with ``fit_poses``) fit the interpolation
    between the frames around it better exchanged (summed distance < ``ratio`` × the current
    one) and their appearance agrees."""

    max_len: Int = doc(2, "longest stretch of frames repaired", ge=1)
    ratio: Float = doc(0.5, "required improvement of the interpolation fit", gt=0, le=1)
    fit_poses: Bool = doc(
        True,
        "fit whole poses (where the keypoints visible in every detection stand, plus how "
        "they lie around that) instead of centroids, where the instances have keypoints: "
        "two animals on top of each other still differ in heading (measured on the "
        "identity benchmark, docs/deviations.md)",
    )
    move_gap: Int = doc(
        8,
        "give a run of up to max_len detections of one track to a track unseen there when it "
        "fits that track's path and looks better; both tracks' sightings around the run at "
        "most this many frames away (dreem.inference.move_repair). Also how far the short "
        "swaps' anchors may be: a track unseen next to a stretch (an animal back from an "
        "occlusion) is interpolated across up to this many frames (measured on the identity "
        "benchmark, docs/deviations.md)",
        ge=1,
    )
    tail_window: Int | None = doc(
        None,
        "also undo lasting swaps: compare each track's mean appearance over this many "
        "detections before and after every cut (detections with another animal within half "
        "the crop left out) and exchange the tails when that fits better "
        "(dreem.inference.smoothing.repair_tail_swaps); null = off",
        ge=1,
    )
    tail_margin: Float = doc(
        0.05,
        "mean cosine gain a tail exchange needs (with tail_window; 0.05 measured on the "
        "identity benchmark, docs/deviations.md)",
        gt=0,
        le=2,
    )
    impossible_links: Bool = doc(
        False,
        "last, exchange two tracks' tails where a track's own link is faster than any animal "
        "moves (1.5 x the tracks' 99th-percentile speed) and the exchanged links are not; "
        "position decides unless the looks disagree by more than LOOKALIKE_MARGIN "
        "(distinct animals; dreem.inference.smoothing.repair_tail_swaps). Off by default: on "
        "the identity benchmark (40 models) every exchange it made was wrong "
        "(docs/deviations.md)",
    )


class TrackerConfig(Section):
    """Tracker used at inference (sliding window + Hungarian); see dreem.inference.tracker."""

    window_size: Int = doc(8, "appearances per track kept as context", ge=1)
    use_vis_feats: Bool = doc(True, "use visual features (false: position and time only)")
    overlap_thresh: Float = doc(
        0.01,
        "trajectory overlap threshold for assignment: a match is kept when the matched "
        "track's mean probability per queued appearance (mult_thresh; else their sum) "
        "exceeds it, otherwise the detection starts a new id (while fewer than max_tracks "
        "exist). 0 keeps every match the assignment makes: new ids only for detections left "
        "over or gated (the bundled configs; bench/README.md, 'Tracking without the number "
        "of animals')",
        ge=0,
    )
    mult_thresh: Bool = doc(True, "compare the per-appearance mean (true) or the sum to it")
    decay_time: OptFloat = doc(
        None, "weight decay per processed frame of older context, in (0, 1]; null = none", ge=0
    )
    iou: Annotated[Literal["mult", "max"] | None, one_of(("mult", "max", None), {"": None})] = doc(
        "mult", "how box IoU enters association: mult, max, or null/'' for none"
    )
    max_center_dist: OptFloat = doc(
        None,
        "centroid distance (pixels) beyond which a match is penalised; null = no limit",
        ge=0,
    )
    persistent_tracking: Bool = doc(True, "keep the track queue across clips of one video")
    clip_length: OptInt = doc(
        None, "frames per clip when persistent_tracking is false; null = the model's", ge=1
    )
    max_gap: Limit = doc(
        math.inf,
        "processed frames a track may be missing before it ends; null/.inf = none",
        ge=0,
    )
    max_tracks: Limit = doc(math.inf, "maximum number of track ids; null/.inf = no limit", ge=1)
    temperature: Float = doc(0.1, "softmax temperature of association scores", gt=0)
    confidence_threshold: Float = doc(
        0.0, "below this confidence a frame is flagged for review", ge=0, le=1
    )
    distance_penalty_multiplier: Float = doc(
        1.0, "weight of the centroid-distance penalty (0 = a hard gate at max_center_dist)", ge=0
    )
    max_angle_diff: OptFloat = doc(
        0.0, "max heading change in degrees before a penalty (0 or null = off)", ge=0
    )
    angle_diff_penalty_multiplier: Float = doc(1.0, "weight of the heading penalty", ge=0)
    front_nodes: OptStrList = doc(None, "nodes marking the animal's front")
    back_nodes: OptStrList = doc(None, "nodes marking the animal's back")
    enable_crop_saving: Bool = doc(False, "keep crops on tracked instances (not supported)")
    verbose: Bool = doc(False, "log per-frame tracking details")
    motion: MotionConfig = doc(MotionConfig(), "EXTENSION: motion prediction per track")
    swap_repair: SwapRepairConfig | None = doc(
        None, "EXTENSION: undo short identity swaps after tracking; null = off (the reference)"
    )

    @field_validator("decay_time", mode="before")
    @classmethod
    def _zero_decay_is_none(cls, value: Any) -> Any:
        return None if value == 0 and not isinstance(value, bool) else value

    @property
    def angle_penalty_on(self) -> bool:
        """True when the orientation penalty applies (a finite positive angle)."""
        mad = self.max_angle_diff
        return mad is not None and 0 < mad < math.inf and self.angle_diff_penalty_multiplier > 0
