"""Multi-process (DDP) training: which process writes the outputs, and how the processes start.

With ``trainer.devices > 1`` and ``strategy: ddp`` Lightning runs one process per device.
Either it starts the extra processes itself (a plain ``dreem train`` or one pipeline job:
it re-runs the same command with ``LOCAL_RANK`` set) or the cluster starts one task per
device (``srun`` with ``--ntasks-per-node`` = devices). Every process trains; only the main
process (global rank 0) writes checkpoints copies, logs, markers and the published model.
"""

from __future__ import annotations

import os
from typing import Any

# The order in which Lightning itself reads a process's rank from the environment.
RANK_VARS = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def global_rank() -> int:
    """This process's rank in a multi-process run (0 when it is not one)."""
    for var in RANK_VARS:
        value = os.environ.get(var)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                continue
    return 0


def is_main_process() -> bool:
    """True for the process that writes the run's outputs (rank 0)."""
    return global_rank() == 0


def device_count(devices: Any) -> int:
    """How many devices a ``trainer.devices`` value asks for (``auto``/-1: the visible GPUs,
    else 1)."""
    if isinstance(devices, list):
        return len(devices)
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    if isinstance(devices, int) and devices > 0:
        return devices
    try:
        import torch

        return max(1, torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - no CUDA: one CPU device
        return 1


def cluster_plugins(devices: Any, num_nodes: int) -> list:
    """Lightning plugins so a single task can train on several devices.

    Inside a one-task SLURM job step (a pipeline job runs as ``srun -n1``), Lightning would
    take SLURM as the process launcher and wait for tasks that never come; with one node
    and one task, Lightning starts the local processes itself instead.
    """
    ntasks = os.environ.get("SLURM_NTASKS")
    if ntasks is None or num_nodes != 1 or device_count(devices) <= 1:
        return []
    try:
        if int(ntasks) != 1:
            return []
    except ValueError:
        return []
    from lightning.fabric.plugins.environments import LightningEnvironment

    return [LightningEnvironment()]


def cpu_threads_per_process(total: int, accelerator: str, devices: Any) -> int:
    """Intra-op threads for each process: the cores split between CPU processes."""
    if accelerator == "cpu":
        return max(1, total // device_count(devices))
    return total
