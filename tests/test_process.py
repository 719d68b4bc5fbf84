"""Process-wide settings (dreem.utils.process): how a training or tracking process
allocates memory and how a finished command exits."""

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


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_exit_now_runs_exit_handlers_flushes_and_keeps_the_status():
    """``exit_now`` skips the interpreter's teardown, not its exit handlers or buffered
    output: a handler runs, unflushed prints to a pipe arrive, the status is kept."""
    code = (
        "import atexit, sys\n"
        "from dreem.utils.process import exit_now\n"
        "atexit.register(lambda: print('handler ran', flush=False))\n"
        "print('work done', end='')  # still in the pipe's buffer\n"
        "status = sys.argv[1]\n"
        "exit_now(int(status) if status.isdigit() else status)\n"
        "print('never')\n"
    )
    done = _run(code, "3")
    assert (done.returncode, done.stdout) == (3, "work donehandler ran\n")
    as_text = _run(code, "bad input")  # a text status: printed, exit 1 (as sys.exit)
    assert (as_text.returncode, as_text.stderr.strip()) == (1, "bad input")
    assert as_text.stdout == "work donehandler ran\n"


def test_exit_now_waits_for_a_running_thread():
    """With another non-daemon thread still running it exits the ordinary way, which
    lets the thread finish."""
    code = (
        "import threading, time\n"
        "from dreem.utils.process import exit_now\n"
        "def late():\n"
        "    time.sleep(0.5)\n"
        "    print('thread finished', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "exit_now(4)\n"
    )
    done = _run(code)
    assert (done.returncode, done.stdout) == (4, "thread finished\n"), done.stderr
