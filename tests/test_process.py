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


def test_paused_collection_runs_no_collection_then_freezes_what_it_left():
    """Inside the block nothing is collected, however much is allocated; afterwards the
    collector runs again and, the block having imported a module, what is alive is frozen
    (later collections skip it). Nested blocks resume collection only at the outermost end;
    a collector the caller disabled stays disabled."""
    code = (
        "import gc\n"
        "from dreem.utils.process import paused_collection\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and runs.append(info))\n"
        "frozen = gc.get_freeze_count()\n"
        "with paused_collection():\n"
        "    with paused_collection():\n"
        "        import xml.dom.minidom  # a module not imported yet\n"
        "        kept = [[i] for i in range(300_000)]  # would trigger many collections\n"
        "    inner_enabled = gc.isenabled()\n"
        "grown = gc.get_freeze_count() - frozen > 300_000\n"
        "print(len(runs), inner_enabled, gc.isenabled(), grown)\n"
        "class Cycle:\n"
        "    pass\n"
        "for _ in range(50_000):\n"
        "    c = Cycle(); c.me = c  # cyclic garbage, only the collector frees it\n"
        "print(len(runs) > 0)\n"
        "gc.disable()\n"
        "with paused_collection():\n"
        "    import json.tool\n"
        "print(gc.isenabled())\n"
    )
    proc = _run(code)
    assert proc.stdout.split() == ["0", "False", "True", "True", "True", "False"], (
        proc.stdout + proc.stderr
    )


def test_paused_collection_importing_nothing_new_freezes_nothing():
    """A block that imports nothing new (the next training or video in a process) freezes
    nothing: cyclic garbage left by earlier work is still collected afterwards."""
    code = (
        "import gc, weakref\n"
        "from dreem.utils.process import paused_collection\n"
        "class Model:\n"
        "    pass\n"
        "m = Model(); m.me = m  # the previous run's state, in a reference cycle\n"
        "gone = weakref.ref(m)\n"
        "del m\n"
        "frozen = gc.get_freeze_count()\n"
        "with paused_collection():\n"
        "    import gc  # already imported\n"
        "gc.collect()\n"
        "print(gc.get_freeze_count() == frozen, gone() is None)\n"
    )
    proc = _run(code)
    assert proc.stdout.split() == ["True", "True"], proc.stdout + proc.stderr


def _full_collections_during(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, counting full (generation 2) collections."""
    prelude = (
        "import gc\n"
        "full = []\n"
        "def count(phase, info):\n"
        "    if phase == 'start' and info['generation'] == 2:\n"
        "        full.append(1)\n"
        "gc.callbacks.append(count)\n"
    )
    return _run(prelude + code)


def test_training_libraries_are_imported_without_a_full_collection():
    """Importing torch and Lightning (torchmetrics, torchvision, torch._dynamo ...)
    used to run several full collections over millions of objects (1.1 s per training
    process): now none, and the collector is on afterwards with the imports frozen."""
    proc = _full_collections_during(
        "from dreem.training.train import import_training_libraries\n"
        "full.clear()  # only what the call runs\n"
        "import_training_libraries()\n"
        "import sys\n"
        "print(len(full), 'lightning.pytorch' in sys.modules, gc.isenabled(),"
        " gc.get_freeze_count() > 100_000)\n"
    )
    assert proc.stdout.split() == ["0", "True", "True", "True"], proc.stdout + proc.stderr


def test_tracking_imports_torch_and_the_model_code_without_a_full_collection(tmp_path):
    """``dreem track``'s checkpoint check imports torch and the model code with the
    collector paused (before, several full collections); a bad file is still an error
    naming it."""
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(b"not a checkpoint")
    proc = _full_collections_during(
        "import sys\n"
        "from dreem.stages import model_specs\n"
        "from dreem.utils.errors import InputDataError\n"
        "full.clear()  # only what the call runs\n"
        "try:\n"
        f"    model_specs([{str(bad)!r}])\n"
        "except InputDataError as err:\n"
        "    print('error', 'model.ckpt' in str(err))\n"
        "print(len(full), 'torch' in sys.modules, gc.isenabled())\n"
    )
    assert proc.stdout.split() == ["error", "True", "0", "True", "True"], proc.stdout + proc.stderr
