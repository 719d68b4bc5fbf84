"""The MLflow record of one training run, kept by a child process.

Importing MLflow and opening a SQLite store (creating a new one runs MLflow's schema
migrations) take seconds of CPU. On a thread of the training process that work competed
with the first training steps for the cores and the GIL (two_flies, 3 epochs, this
project's 2-core machine: first step 3.1 s instead of 1.3 s, 2.4 s of wall time in all).
In a child process at a lower CPU priority it runs on the core the training process leaves
idle while it imports torch and Lightning, and it never holds the training process's GIL.

Protocol: the parent (:class:`TrainingRecordProcess`) writes one JSON object per line to
the child's stdin, in order::

    {"op": "start", "model": ..., "kind": ..., "params": {...}, "tags": {...}}
    {"op": "log", "values": {...}, "step": 3}
    {"op": "finish", "artifacts": [...], "record": {...}, "status": "FINISHED"}

and closes it; the child then writes ``{"run_id": ...}`` (null when the run could not
start) as its last stdout line and exits. Every MLflow failure is a warning on stderr: the
record never costs a training run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from queue import SimpleQueue
from typing import Any

log = logging.getLogger(__name__)

NICENESS = 10  # below the training process, so the record never slows its steps
CLOSE_TIMEOUT_S = 600.0  # a store locked by another job for longer is given up on


def serve(cfg: Mapping, lines: Iterable[str]) -> str | None:
    """Carry out the parent's requests (JSON lines) against the store ``cfg``; return the
    run id (None when the run could not start)."""
    from dreem.pipeline import mlflow_log as m

    run_id = None
    for line in lines:
        if not line.strip():
            continue
        msg = json.loads(line)
        op = msg["op"]
        if op == "start":
            try:
                run_id = m.start_run(cfg, msg["model"], msg["kind"], msg["params"], msg["tags"])
            except Exception as exc:  # noqa: BLE001 - a side record
                m._warn("start the training run", exc)
        elif run_id is None:
            continue
        elif op == "log":
            try:
                m.log_metrics(cfg, run_id, msg["values"], step=msg["step"])
            except Exception as exc:  # noqa: BLE001
                m._warn(f"log epoch {msg['step']}", exc)
        elif op == "finish":
            try:
                artifacts = [Path(p) for p in msg.get("artifacts", ())]
                m.finish_run(cfg, run_id, artifacts, msg.get("record"), msg["status"])
            except Exception as exc:  # noqa: BLE001
                m._warn("finish the training run", exc)
    return run_id


def main() -> None:
    """``python -m dreem.pipeline.mlflow_worker CFG_JSON``."""
    reply = os.fdopen(os.dup(1), "w")  # the answer's channel; library prints go to stderr
    os.dup2(2, 1)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = json.loads(sys.argv[1])
    with contextlib.suppress(Exception):  # MLflow and the store, while the parent imports
        from dreem.pipeline import mlflow_log

        with mlflow_log._locked(cfg):
            mlflow_log._client(cfg)
    run_id = serve(cfg, sys.stdin)  # ends at EOF: the parent closed the pipe or died
    with contextlib.suppress(OSError):  # a killed parent reads no answer
        reply.write(json.dumps({"run_id": run_id}) + "\n")
        reply.flush()
    from dreem.utils.process import skip_exit_collection

    skip_exit_collection()  # MLflow, SQLAlchemy and pandas loaded: exit without a GC pass


class TrainingRecordProcess:
    """The parent's end: starts the child at once and sends it requests without waiting
    (a writer thread feeds the pipe, so a busy child never blocks training)."""

    def __init__(self, cfg: Mapping) -> None:
        self.cfg = dict(cfg)  # the store settings it records to
        self._queue: SimpleQueue[str | None] = SimpleQueue()
        self.proc: subprocess.Popen | None = None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dreem.pipeline.mlflow_worker", json.dumps(dict(cfg))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            log.warning("MLflow: could not start the recording process (%s); no record", exc)
            return
        self._writer = threading.Thread(target=self._write, name="mlflow-pipe", daemon=True)
        self._writer.start()

    def _write(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            while (line := self._queue.get()) is not None:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
        except OSError:  # the child died: its stderr says why
            pass
        finally:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def send(self, op: str, **fields: Any) -> None:
        """Queue one request (values that are not JSON become strings)."""
        if self.proc is not None:
            self._queue.put(json.dumps({"op": op, **fields}, default=str) + "\n")

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> str | None:
        """Wait until the child has carried out every request; its run id, or None."""
        if self.proc is None:
            return None
        self._queue.put(None)
        self._writer.join()
        self.proc.stdin = None  # closed by the writer: communicate() only reads the answer
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            log.warning("MLflow: the record did not finish within %.0f s; stopped it", timeout)
            return None
        lines = out.strip().splitlines()
        try:
            return json.loads(lines[-1])["run_id"] if lines else None
        except (ValueError, KeyError, TypeError):
            return None


if __name__ == "__main__":
    main()
