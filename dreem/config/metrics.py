"""Tracking metric names: one resolver, one meaning of every group name.

Names are py-motmetrics metric names plus ``global_tracking_accuracy``; the legacy alias
``sw_cnt`` means ``num_switches``. Group names:

* ``default`` (also what ``null`` means): :data:`DEFAULT_METRICS`, the report's set;
* ``all``: every per-video scalar metric (:data:`SCALAR_METRICS`);
* ``motmetrics``: every scalar py-motmetrics metric (``all`` without our extras).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator

from dreem.config.errors import join, suggest
from dreem.config.types import StrList

# py-motmetrics metric names (``motmetrics.metrics.create().names``, motmetrics 1.4); a
# test checks them against the installed motmetrics.
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
NON_SCALAR = ("obj_frequencies", "pred_frequencies", "track_ratios", "id_global_assignment")
EXTRA_METRICS = ("global_tracking_accuracy",)
MOT_SCALARS = tuple(m for m in MOTMETRICS_NAMES if m not in NON_SCALAR)
SCALAR_METRICS = MOT_SCALARS + EXTRA_METRICS
DEFAULT_METRICS = (
    "mota",
    "idf1",
    "num_switches",
    "mostly_tracked",
    "mostly_lost",
    "num_fragmentations",
    "precision",
    "recall",
)
# Detection-level matching: the threshold evaluate.threshold: null stands for, per match.
DEFAULT_THRESHOLD = {"centroid": 10.0, "iou": 0.5}
GROUPS = {"default": DEFAULT_METRICS, "all": SCALAR_METRICS, "motmetrics": MOT_SCALARS}
ALIASES = {"sw_cnt": "num_switches"}
# A checkpoint-selection quantity made from val_num_switches and val_loss
# (dreem.training.selection); needs num_switches among the validation metrics.
SWITCHES_THEN_LOSS = "val_num_switches_then_loss"


def check_metric_names(names: Sequence[str], path: str) -> list[str]:
    """Error lines (``path[i]: unknown metric ...``) for names that are not known."""
    errors = []
    known = (*SCALAR_METRICS, *GROUPS, *ALIASES)
    for i, name in enumerate(names):
        if name not in known:
            hint = suggest(name, known)
            if name in NON_SCALAR:
                hint = " (not a per-video number)"
            errors.append(f"{join(path, i)}: unknown metric {name!r}{hint}")
    return errors


def resolve_metrics(names: Sequence[str] | str | None, path: str = "metrics") -> list[str]:
    """Expand groups and aliases into metric names (order kept, no duplicates).

    ``None`` or ``[]``... ``None`` means ``default``; an empty list means no metrics.
    Raises ``ConfigError`` naming ``path`` for unknown names.
    """
    from dreem.config.errors import raise_errors

    if names is None:
        names = ["default"]
    elif isinstance(names, str):
        names = [names]
    raise_errors(check_metric_names(names, path))
    return expand_names(names)


def expand_names(names: Sequence[str]) -> list[str]:
    """``names`` with groups and aliases expanded (order kept, no duplicates, no check:
    unknown names pass through)."""
    out: list[str] = []
    for name in names:
        name = ALIASES.get(name, name)
        for m in GROUPS.get(name, (name,)):
            if m not in out:
                out.append(m)
    return out


def _canonical(names: list[str]) -> list[str]:
    return [ALIASES.get(n, n) for n in names]


# A metric list in a config: a name or a list; legacy aliases rewritten (sw_cnt).
MetricList = Annotated[StrList, AfterValidator(_canonical)]
