"""Helpers for the thin rule adapters: send all output of a job to its ``log:`` file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def logged(smk: Any) -> Iterator[logging.Logger]:
    """Redirect stdout/stderr (Python and C level) of this job to ``smk.log[0]``.

    A user error (:class:`dreem.utils.errors.DreemError`: bad input naming its file, a full
    disk) is logged as one ``error: ...`` line, as the CLI prints it, and the job exits 1;
    other exceptions propagate (their traceback lands in the log). Either way Snakemake
    marks the job failed. A job that succeeded ends the process once the log is closed
    (:func:`dreem.utils.process.exit_now`): the ``with logged(...)`` block is each rule
    script's last statement.
    """
    from dreem.utils.errors import DreemError
    from dreem.utils.process import exit_now, skip_exit_collection

    # Native thread pools (torch, OpenCV, BLAS) use the job's threads, not every core.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(max(1, int(smk.threads))))
    log_path = Path(smk.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    done = False
    with open(log_path, "a", buffering=1) as fh:
        saved = os.dup(1), os.dup(2)
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        sys.stdout = os.fdopen(os.dup(1), "w", buffering=1)
        sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,
        )
        log = logging.getLogger(f"dreem.workflow.{smk.rule}")
        log.info("rule %s, wildcards %s", smk.rule, dict(smk.wildcards.items()))
        try:
            yield log  # an exception's traceback goes to stderr, i.e. the log
            done = True
        except DreemError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            if not done:  # a failed job exits the ordinary way, without a second of GC
                skip_exit_collection()
    if done:  # the script's last statement: end without the interpreter's teardown (0.2 s)
        exit_now(0)
