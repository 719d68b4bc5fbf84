"""Optimizer and scheduler classes of torch by name (for configs and their validation)."""

from __future__ import annotations

import inspect
from typing import Any


def public_classes(module: Any, base: type) -> dict[str, type]:
    """Public subclasses of ``base`` defined in ``module``, by name."""
    return {
        n: c
        for n, c in vars(module).items()
        if inspect.isclass(c) and issubclass(c, base) and c is not base and not n.startswith("_")
    }


def optimizer_classes() -> dict[str, type]:
    """``torch.optim`` optimizer classes by name."""
    import torch

    return public_classes(torch.optim, torch.optim.Optimizer)


def scheduler_classes() -> dict[str, type]:
    """``torch.optim.lr_scheduler`` classes by name (ReduceLROnPlateau included)."""
    import torch

    mod = torch.optim.lr_scheduler
    base = getattr(mod, "LRScheduler", None) or mod._LRScheduler
    out = public_classes(mod, base)
    out["ReduceLROnPlateau"] = mod.ReduceLROnPlateau
    return out
