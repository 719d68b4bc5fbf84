"""Writing Lightning checkpoints: ``torch.save`` straight into an atomic temporary file, and
a checkpoint of the very state just written published as a hard link to that file.

Lightning's own ``TorchCheckpointIO`` serialises a checkpoint into memory, then copies the
bytes through an fsspec transaction: 0.3-0.6 s for a 139 MB resnet18 checkpoint (weights +
Adam state) on this project's 2-core machine, against 0.2 s for ``torch.save`` to a file.
This plugin writes local checkpoints through :func:`dreem.utils.atomic.atomic_path` (a
temporary sibling, flushed, then renamed: a kill never leaves a half-written checkpoint
under its name, a full disk is an error naming the file) and leaves remote URLs
(``s3://`` ...) to Lightning.

Lightning writes ``last.ckpt`` right after the epoch's top-k checkpoint(s), from the same
training state. When a checkpoint's content is that of the previous save — the weights and
optimizer state the very tensors written then, unchanged since (same storage, same version
counter), and every other entry equal (step, loop and callback states: a second monitor's
ModelCheckpoint updates its best path between the two saves, so its file and the next are
written anew) — it becomes a hard link to that file instead of a second copy. The callback
that writes ``last.ckpt`` names it in its state from the start (``build_callbacks``), so
this holds from the first epoch on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from dreem.utils.atomic import atomic_path


def _is_local(path: Any) -> bool:
    text = str(path)
    return "://" not in text or text.startswith("file://")


def _content(tree: Any) -> Any:
    """A comparable stand-in for a checkpoint: each tensor by its storage, version counter
    and shape (no copy of its data), everything else by value."""
    import torch

    if torch.is_tensor(tree):
        return ("tensor", tree.data_ptr(), tree._version, tuple(tree.shape))
    if isinstance(tree, dict):
        return tuple((repr(k), _content(v)) for k, v in tree.items())
    if isinstance(tree, list | tuple):
        return tuple(_content(v) for v in tree)
    return repr(tree)


def training_state(checkpoint: dict[str, Any]) -> Any:
    """What identifies a checkpoint's content (:func:`_content`); None without a state dict."""
    if not checkpoint.get("state_dict"):
        return None
    return _content(checkpoint)


class AtomicTorchCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` whose local saves are one ``torch.save`` into an atomic
    temporary file, or a hard link to the file just written from the same state."""

    def __init__(self) -> None:
        super().__init__()
        self._previous: tuple[Path, tuple] | None = None

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        import torch

        target = Path(str(path).removeprefix("file://"))
        state = training_state(checkpoint)
        same = self._previous is not None and state is not None and self._previous[1] == state
        with atomic_path(target) as tmp:
            if same and self._previous[0].is_file():
                os.link(self._previous[0], tmp)
            else:
                torch.save(checkpoint, tmp)
        drop_from_page_cache(target)
        self._previous = (target, state) if state is not None else None


def drop_from_page_cache(path: Path) -> None:
    """Let the kernel reuse the memory caching a file written and flushed to disk (a
    training never reads its checkpoints back): the next checkpoint is written into those
    pages instead of fresh ones. On this project's 2-core machines each write of a 139 MB
    checkpoint after the first takes 0.13 s instead of 0.35-0.41 s. A no-op where
    ``posix_fadvise`` does not exist."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)
