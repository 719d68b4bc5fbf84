"""Run a CLI in this process and record where its time goes (used by compare_reference.py).

Runs under either virtualenv (ours or the reference's: this file imports nothing from the
project, so the ``dreem`` package it sees is the one of the interpreter running it).

    python bench/probe.py --out stats.json [--lightning pytorch_lightning]
        [--time module:attr[.method]]... -- module:callable ARG...

* ``--lightning PKG``: once the program imports ``PKG`` (not before: importing it here
  would change when the program does its imports, e.g. ours overlaps them with data
  extraction), adds a callback to every ``PKG.Trainer`` that records training
  instances and the time inside training epochs, validation excluded (``epoch_s``) and
  inside training batches (``step_s``: ``on_train_batch_start`` → ``on_train_batch_end``,
  data loading excluded);
* ``--time TARGET``: wraps a function or method and sums its wall time and calls;
* ``--preimport MOD,...``: imports these modules first (their import time is then not in a
  timed call: ours imports lazily inside the calls, the reference at start-up);
* then calls ``callable()`` with ``sys.argv = [module, ARG...]`` (a Typer app or a
  ``main``), and writes the figures as JSON to ``--out`` (also when the CLI exits non-zero,
  and from an exit handler when it ends the process itself, as ``dreem`` does once done:
  then without ``exit_code``; the caller has the process's).
"""

from __future__ import annotations

import argparse
import atexit
import functools
import importlib
import importlib.abc
import json
import sys
import time

STATS: dict = {"timed": {}, "train": None}


def _resolve(target: str):
    mod_name, _, attr = target.partition(":")
    obj = importlib.import_module(mod_name)
    parts = attr.split(".")
    for p in parts[:-1]:
        obj = getattr(obj, p)
    return obj, parts[-1]


def _wrap(target: str) -> None:
    owner, name = _resolve(target)
    fn = getattr(owner, name)
    rec = STATS["timed"].setdefault(target, {"seconds": 0.0, "calls": 0})

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            rec["seconds"] += time.perf_counter() - t0
            rec["calls"] += 1

    setattr(owner, name, timed)


def _count_instances(batch) -> int:
    """Instances in a training batch: ours (``gt_ids``) or the reference's (lists of frames
    with ``instances``)."""
    if batch is None:
        return 0
    if hasattr(batch, "gt_ids"):
        return len(batch.gt_ids)
    if hasattr(batch, "instances"):
        return len(batch.instances)
    if isinstance(batch, list | tuple):
        return sum(_count_instances(b) for b in batch)
    return 0


def _after_import(name: str, hook) -> None:
    """Call ``hook(module)`` right after the program first imports module ``name``."""
    if name in sys.modules:
        hook(sys.modules[name])
        return

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            for finder in sys.meta_path:
                spec = getattr(finder, "find_spec", lambda *a: None)(fullname, path, target)
                if spec is not None and spec.loader is not None:
                    break
            else:
                return None
            exec_module = spec.loader.exec_module

            def exec_then_hook(module):
                exec_module(module)
                hook(module)

            spec.loader.exec_module = exec_then_hook
            return spec

    sys.meta_path.insert(0, Finder())


def _patch_trainer(pkg: str) -> None:
    rec = {"instances": 0, "steps": 0, "epoch_s": 0.0, "step_s": 0.0, "epochs": 0}
    rec["step_times"], rec["step_instances"] = [], []  # per training batch
    STATS["train"] = rec
    _after_import(pkg, lambda pl: _add_timing(pl, rec))


def _add_timing(pl, rec: dict) -> None:

    class Timing(pl.Callback):
        def __init__(self):
            self._epoch_t0 = None
            self._step_t0 = None

        def _pause(self):
            if self._epoch_t0 is not None:
                rec["epoch_s"] += time.perf_counter() - self._epoch_t0
                self._epoch_t0 = None

        def on_train_epoch_start(self, trainer, module):
            self._epoch_t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self._pause()
            rec["epochs"] += 1

        def on_validation_start(self, trainer, module):
            self._pause()

        def on_validation_end(self, trainer, module):
            if not trainer.sanity_checking and trainer.training:
                self._epoch_t0 = time.perf_counter()

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            self._step_t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if self._step_t0 is not None:
                rec["step_s"] += time.perf_counter() - self._step_t0
                rec["step_times"].append(round(time.perf_counter() - self._step_t0, 4))
                rec["step_instances"].append(_count_instances(batch))
            rec["instances"] += _count_instances(batch)
            rec["steps"] += 1

    init = pl.Trainer.__init__

    @functools.wraps(init)
    def patched(self, *args, **kwargs):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), Timing()]
        init(self, *args, **kwargs)

    pl.Trainer.__init__ = patched


def main() -> None:
    argv = sys.argv[1:]
    if "--" not in argv:
        raise SystemExit("usage: probe.py [options] -- module:callable ARG...")
    cut = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--lightning", default=None)
    ap.add_argument("--time", action="append", default=[])
    ap.add_argument("--preimport", default="")
    args = ap.parse_args(argv[:cut])
    target, *cli_args = argv[cut + 1 :]
    t0 = time.perf_counter()
    for mod in filter(None, args.preimport.split(",")):
        importlib.import_module(mod)
    STATS["preimport_s"] = time.perf_counter() - t0
    if args.lightning:
        _patch_trainer(args.lightning)
    for t in args.time:
        _wrap(t)
    owner, name = _resolve(target)
    sys.argv = [target.split(":")[0], *cli_args]

    def write_stats() -> None:  # also from atexit: a CLI may end with os._exit after them
        STATS["in_process_s"] = time.perf_counter() - t0
        with open(args.out, "w") as f:
            json.dump(STATS, f, indent=1)

    atexit.register(write_stats)  # registered first, so it runs after the CLI's handlers
    code = 0
    try:
        getattr(owner, name)()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        code = 1
        raise
    finally:
        STATS["exit_code"] = code
        write_stats()
    sys.exit(code)


if __name__ == "__main__":
    main()
