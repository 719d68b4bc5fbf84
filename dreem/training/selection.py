"""``val_num_switches_then_loss``: checkpoint selection by validation ID switches, ties
broken by validation loss.

Selecting the best checkpoint by the validation pool's ID switches alone beat ``val_loss``
on the identity benchmark (bench/README.md), but an easy validation set reaches 0 switches
in several epochs and Lightning keeps the first of equal scores: on the demo that was an
earlier, worse model than the one ``val_loss`` picks. One number orders epochs by switches
first and loss second: ``switches + loss / (1 + loss)`` (the fraction is in [0, 1) and grows
with the loss, so it never outweighs one switch). Its integer part is the switch count.
"""

from __future__ import annotations

import math

from dreem.config.metrics import SWITCHES_THEN_LOSS

__all__ = ["SWITCHES_THEN_LOSS", "switches_then_loss", "switches_then_loss_callback"]


def switches_then_loss(switches: float, loss: float) -> float:
    """``switches + loss / (1 + loss)``; NaN when either is not finite (so that a
    checkpoint callback with ``check_finite`` never selects it)."""
    if not (math.isfinite(switches) and math.isfinite(loss)) or loss < 0:
        return math.nan
    return switches + loss / (1.0 + loss)


def switches_then_loss_callback():
    """A Lightning callback that adds :data:`SWITCHES_THEN_LOSS` to the trainer's
    ``callback_metrics`` after each validation (from the epoch's reduced ``val_loss`` and
    ``val_num_switches``). Lightning runs checkpoint callbacks after all others, so theirs
    see it."""
    import lightning as L
    import torch

    class SwitchesThenLoss(L.Callback):
        def on_validation_end(self, trainer, pl_module) -> None:
            if trainer.sanity_checking:
                return
            metrics = trainer.callback_metrics
            if "val_loss" not in metrics or "val_num_switches" not in metrics:
                return
            value = switches_then_loss(
                float(metrics["val_num_switches"]), float(metrics["val_loss"])
            )
            metrics[SWITCHES_THEN_LOSS] = torch.tensor(value)

    return SwitchesThenLoss()
