"""Process-wide settings (dreem.utils.process): how a training or tracking process
allocates memory."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_reuse_freed_memory_serves_large_blocks_from_the_heap():
    """After ``reuse_freed_memory`` a 100 MB block is no separate mmap (glibc's mallinfo2
    counts those), so freeing and allocating it again reuses the same pages."""
    code = (
        "import ctypes, sys\n"
        "import numpy as np\n"
        "from dreem.utils.process import reuse_freed_memory\n"
        "class Info(ctypes.Structure):\n"
        "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks',"
        " 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
        "libc = ctypes.CDLL('libc.so.6')\n"
        "libc.mallinfo2.restype = Info\n"
        "def mmapped():  # mmapped blocks a 100 MB array adds\n"
        "    base = libc.mallinfo2().hblks\n"
        "    a = np.ones(100_000_000, np.uint8)\n"
        "    return libc.mallinfo2().hblks - base\n"
        "before = mmapped()\n"
        "print(before, reuse_freed_memory(), mmapped())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode and "mallinfo2" in proc.stderr:
        pytest.skip("not glibc >= 2.33")
    assert proc.stdout.split() == ["1", "True", "0"], proc.stdout + proc.stderr
