"""A training's data preparation (discovery and crop extraction) in a child process.

Before ``dreem train`` can take its first step it must import torch, Lightning and
albumentations (about 5 s on this project's 2-core machines) and discover and
extract its clips (1.4 s for ``two_flies``). Imports run on one core under the GIL, so the
two were done one after the other while the second core idled. Here the extraction runs in
a child process (its own interpreter: it imports the data libraries, never torch) while the
parent imports the training libraries; the parent waits for it before training starts.

Protocol: the parent writes a pickled ``(pipeline config dict, progress, log level)`` to
the child's stdin; the child plans it, runs :func:`dreem.pipeline.run.prepare`, computes the
training job's code version (:func:`dreem.pipeline.code.job_code`: parsing the package's
sources, 0.15 s the parent no longer spends) and writes a pickled
``{"shards": [...], "train_code": {...}}`` or ``{"error": exception}`` to its stdout
(library prints go to stderr, which the parent shares, so progress bars and warnings show
as before). Outputs are atomic as everywhere: a cancelled child (SIGINT) leaves no partial
shard under its name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from typing import Any

from dreem.utils.errors import DreemError

CANCEL_WAIT_S = 30.0  # for a cancelled child to remove its temporaries before it is killed


def main() -> None:
    """``python -m dreem.pipeline.prepare_worker`` (the request on stdin)."""
    reply = os.fdopen(os.dup(1), "wb")  # the answer's channel; library prints go to stderr
    os.dup2(2, 1)
    data, progress, level = pickle.load(sys.stdin.buffer)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        from dreem.config.pipeline import load_pipeline_config
        from dreem.pipeline import run
        from dreem.pipeline.code import job_code
        from dreem.pipeline.plan import Plan

        plan = Plan(load_pipeline_config(data))  # as the parent planned it (stages._plan)
        outcome: dict[str, Any] = {
            "shards": run.prepare(plan, progress=progress),
            "train_code": job_code("train_job"),
        }
    except KeyboardInterrupt:  # cancelled by the parent: the temporaries are gone
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent
        if not isinstance(exc, DreemError):  # unexpected: where it happened, for the log
            traceback.print_exc()
        outcome = {"error": exc}
    try:
        payload = pickle.dumps(outcome)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        payload = pickle.dumps({"error": RuntimeError(str(outcome["error"]))})
    with contextlib.suppress(OSError):  # a parent that died reads no answer
        reply.write(payload)
        reply.flush()


class BackgroundPreparation:
    """The parent's end: starts the child at once; :meth:`result` waits for it."""

    def __init__(self, data: dict, progress: bool = True) -> None:
        self._outcome: dict[str, Any] | None = None  # the child's answer, once read
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dreem.pipeline.prepare_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdin is not None
        with self._proc.stdin:
            level = logging.getLogger().getEffectiveLevel()  # the CLI's --quiet/--verbose
            self._proc.stdin.write(pickle.dumps((data, progress, level)))
        self._proc.stdin = None  # closed: communicate() only reads the answer

    def _answer(self) -> dict[str, Any]:
        """The child's answer; raises its exception (a clear error when it died)."""
        if self._outcome is not None:
            return self._outcome
        out, _ = self._proc.communicate()
        outcome = None
        with contextlib.suppress(Exception):
            outcome = pickle.loads(out) if out else None
        if not isinstance(outcome, dict):
            raise DreemError(
                f"the data preparation process stopped (exit code {self._proc.returncode}) "
                "without an answer; its messages are above"
            )
        if "error" in outcome:
            raise outcome["error"]
        self._outcome = outcome
        return outcome

    def result(self) -> list[str]:
        """The shard paths; raises the child's exception (a clear error when it died)."""
        return list(self._answer()["shards"])

    @property
    def train_code(self) -> dict[str, str]:
        """The training job's code version (``job_code("train_job")``), as the child found
        it; waits for the child like :meth:`result`."""
        return self._answer()["train_code"]

    def cancel(self) -> None:
        """Stop the child as Ctrl-C would (it removes its temporaries), then reap it."""
        if self._proc.poll() is None:
            try:
                self._proc.send_signal(signal.SIGINT)
            except ValueError:  # no SIGINT for a child process (Windows)
                self._proc.terminate()
            except ProcessLookupError:
                pass
            try:
                self._proc.communicate(timeout=CANCEL_WAIT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.communicate()
        elif self._proc.stdout is not None and not self._proc.stdout.closed:
            self._proc.communicate()


@contextlib.contextmanager
def preparing(data: dict, progress: bool = True) -> Iterator[BackgroundPreparation]:
    """Prepare the pipeline config ``data``'s shards in a child process during the block;
    the block's end waits for it (raising its error). A block that raises cancels it."""
    child = BackgroundPreparation(data, progress)
    try:
        yield child
    except BaseException:
        child.cancel()
        raise
    child.result()


if __name__ == "__main__":
    main()
