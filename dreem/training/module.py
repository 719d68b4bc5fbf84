"""Lightning module wrapping the Global Tracking Transformer, and checkpoint loading."""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning as L
import numpy as np
import torch

from dreem.config.dreem import DreemConfig
from dreem.config.metrics import resolve_metrics
from dreem.models.gtr import GlobalTrackingTransformer
from dreem.training.embedding_loss import supervised_contrastive
from dreem.training.factories import build_optimizer, build_scheduler
from dreem.training.loss import AssoLoss
from dreem.training.val_tracking import ValGroup, identity_metrics, track_group


class GTRLightning(L.LightningModule):
    """Training/validation loop for ``GlobalTrackingTransformer``.

    The whole validated config is saved as hyper-parameters (a plain dict), so a checkpoint
    alone rebuilds model and config (``dreem.models.checkpoint``).
    """

    def __init__(self, cfg: DreemConfig | dict[str, Any] | None = None, **kwargs: Any):
        super().__init__()
        if not isinstance(cfg, DreemConfig):
            from dreem.config.load import validate_dreem

            cfg = validate_dreem(dict(cfg if cfg is not None else kwargs))
        self.save_hyperparameters(cfg.to_dict())
        self.cfg = cfg
        self.model = GlobalTrackingTransformer(cfg.model)
        self.loss = AssoLoss(cfg.loss)
        self.val_metrics = resolve_metrics(cfg.runner.metrics.val, "runner.metrics.val")
        self.persistent_val = cfg.runner.persistent_tracking.val
        self.tracker_cfg = cfg.tracker
        self.loss_monitor = "val_loss"
        self._val_groups: dict[Any, ValGroup] = {}

    # --- data -------------------------------------------------------------------------
    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        if batch is None or device.type == "cpu":
            return batch
        changes = {
            f.name: getattr(batch, f.name).to(device, non_blocking=True)
            for f in dataclasses.fields(batch)
            if isinstance(getattr(batch, f.name), torch.Tensor)
        }
        return dataclasses.replace(batch, **changes)

    def on_train_epoch_start(self) -> None:
        dl = self.trainer.train_dataloader
        ds = getattr(dl, "dataset", None)
        if hasattr(ds, "set_epoch"):
            ds.set_epoch(self.current_epoch)  # new shuffles/augmentations each epoch

    def forward(self, clip) -> list[torch.Tensor]:
        return self.model(clip)

    # --- steps ------------------------------------------------------------------------
    def _loss(self, logits, clip) -> torch.Tensor:
        return self.loss(logits, clip.gt_ids, clip.frame_idx)

    def _log_loss(self, name: str, loss, clip) -> None:
        """Per-epoch mean, weighted by the clip's number of instances."""
        self.log(
            name,
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(clip.gt_ids),
            sync_dist=self._trainer is not None and self.trainer.world_size > 1,  # DDP: all ranks
        )

    def _step_loss(self, clip, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The clip's training objective (association + optional embedding loss) and the
        features it was computed from."""
        m = self.model
        feats = m.encode(clip.crops)
        logits = m.associate(feats, clip.boxes, clip.frame_idx, feats, clip.boxes, clip.frame_idx)
        loss = self._loss(logits, clip)
        weight = self.cfg.loss.embedding_weight
        if weight > 0:
            emb = supervised_contrastive(feats, clip.gt_ids, self.cfg.loss.embedding_temperature)
            self._log_loss(f"{prefix}_embedding_loss", emb, clip)
            loss = loss + weight * emb
        return loss, feats

    def training_step(self, clip, batch_idx):
        if clip is None or len(clip.gt_ids) == 0:
            return None
        loss, _ = self._step_loss(clip, "train")
        self._log_loss("train_loss", loss, clip)
        return loss

    def validation_step(self, clip, batch_idx):
        if clip is None or len(clip.gt_ids) == 0:
            return None
        loss, feats = self._step_loss(clip, "val")
        self._log_loss("val_loss", loss, clip)
        if self.val_metrics and not self.trainer.sanity_checking:
            self._track_val_clip(clip, feats)
        return loss

    def _track_val_clip(self, clip, feats) -> None:
        key = str(clip.video_id) if self.persistent_val else (clip.video_id, len(self._val_groups))
        group = self._val_groups.setdefault(key, ValGroup())
        group.add(feats, clip.boxes, clip.frame_idx, clip.gt_ids, clip.img_hw, clip.poses)

    def on_validation_epoch_start(self) -> None:
        self._val_groups = {}

    def on_validation_epoch_end(self) -> None:
        if not self.val_metrics or self.trainer.sanity_checking or not self._val_groups:
            return
        tracked = {
            str(k): track_group(self.model, g, self.tracker_cfg)
            for k, g in self._val_groups.items()
        }
        values = identity_metrics(tracked, self.val_metrics)
        for name, value in values.items():
            v = value if np.isfinite(value) else 0.0
            self.log(f"val_{name}", float(v), prog_bar=name == "num_switches")
        self._val_groups = {}

    # --- optimisation -----------------------------------------------------------------
    def configure_optimizers(self):
        opt = build_optimizer(self.parameters(), self.cfg.optimizer)
        sched = build_scheduler(opt, self.cfg.scheduler)
        if sched is None:
            return opt
        sched["monitor"] = self.loss_monitor
        return {"optimizer": opt, "lr_scheduler": sched}
