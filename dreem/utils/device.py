"""Which torch device a tracking job runs the model on (training: ``trainer.accelerator``).

``auto`` is a CUDA GPU when one is visible, else the CPU; ``gpu``/``cuda`` (or ``cuda:N``)
insist on a GPU and say so when there is none; ``cpu`` never uses one. The same names are
accepted by ``dreem track|eval|train --device`` and the pipeline config's ``device`` key.
"""

from __future__ import annotations

import re

from dreem.utils.errors import ConfigError

DEVICES = ("auto", "cpu", "gpu", "cuda")
_CUDA_INDEX = re.compile(r"^cuda:\d+$")


def check_device(name: str, key: str = "device") -> str:
    """``name`` if it is a device name this module resolves, else a ConfigError naming
    ``key``."""
    if name in DEVICES or _CUDA_INDEX.match(str(name)):
        return name
    raise ConfigError(f"{key}: {name!r} is not one of {', '.join(DEVICES)} or cuda:N")


def resolve_device(name: str | None = "auto", key: str = "device"):
    """The ``torch.device`` for ``name`` (None = auto)."""
    import torch

    name = check_device(name or "auto", key)
    if name == "cpu":
        return torch.device("cpu")
    has_cuda = torch.cuda.is_available()
    if name == "auto":
        return torch.device("cuda" if has_cuda else "cpu")
    if not has_cuda:
        raise ConfigError(
            f"{key}: {name!r} asks for a CUDA GPU but torch sees none "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
            "use 'auto' or 'cpu'"
        )
    if name.startswith("cuda:") and int(name.split(":")[1]) >= torch.cuda.device_count():
        raise ConfigError(
            f"{key}: {name!r}: only {torch.cuda.device_count()} CUDA device(s) visible"
        )
    return torch.device("cuda" if name == "gpu" else name)


def accelerator(name: str) -> str:
    """The ``trainer.accelerator`` value for a ``--device`` name (``cuda:N`` → ``gpu``)."""
    name = check_device(name, "--device")
    return "gpu" if name in ("gpu", "cuda") or name.startswith("cuda:") else name
