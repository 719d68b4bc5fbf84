"""Process-wide settings of a command or job: how it allocates and how it exits."""

from __future__ import annotations

import gc


def skip_exit_collection() -> None:
    """Let the interpreter exit without its final garbage collection of every object.

    With torch, torchvision (which imports ``torch._dynamo`` and sympy) and Lightning
    loaded, that collection takes over a second at every exit (1.4 s measured for
    torch + lightning + timm on this project's 2-core machines, 0.2 s with this call).
    ``gc.freeze`` moves all objects to a permanent generation the collector skips; exit
    handlers still run and open files are still flushed and closed, and the operating system
    frees the memory. Call it when a command's work is done.
    """
    gc.freeze()


M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30


def reuse_freed_memory() -> bool:
    """Make glibc's malloc serve large blocks from its heap and keep freed memory for reuse.

    By default every block over 32 MiB (a training step's activations: a 64-crop batch at
    128² holds several of 64 MiB) is a fresh ``mmap`` that is unmapped when freed, so each
    step pays the kernel to zero and fault in the same gigabytes again. With ``mmap`` off for
    allocations and trimming only beyond 1 GiB of free heap, later steps reuse the pages.
    Measured on this project's 2-core machine (two_flies, resnet18 at crop 128, 3 and 12
    epochs, alternating runs): 8-10% less time in training steps, peak RSS +8% (2.2 → 2.4 GB)
    and flat from epoch 3 to 12. Returns False where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
