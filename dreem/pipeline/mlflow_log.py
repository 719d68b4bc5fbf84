"""MLflow side record of a pipeline: one store per output, one experiment, one run per model.

The files under ``output_dir`` stay the truth; MLflow is a record to browse and compare.
With the default settings the store is ``sqlite:///<output_dir>/mlflow.db`` and artifacts
go to ``<output_dir>/mlflow-artifacts``; every training run is an MLflow run named after
its model (tags ``dreem.model``, ``dreem.kind``), with the DREEM config as flattened
params, each epoch's metrics (step = epoch) logged while it trains, and at the end the
config, curves, metrics table and the best checkpoint's path as artifacts (a training run's
record is written by a child process, :mod:`dreem.pipeline.mlflow_worker`). The aggregate
job logs each model's evaluation (``eval/<dataset>/<metric>``, as the report's headline
combines videos: scores averaged, counts summed) to the latest finished run of that model
(baselines and given checkpoints get a run of their own).

MLflow is an optional dependency (``pip install 'dreem-pipeline[mlflow]'``; the
``workflow`` extra includes it): it is imported only here, only when enabled, and a missing
install is a clear error naming the ``mlflow.enabled`` key (before training starts). Any
other MLflow failure (a locked database, an unreachable server) is a warning: the record
never costs a training run or a report. SQLite writes from parallel jobs are serialised by
a lock file next to the database.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dreem.utils.errors import ConfigError

log = logging.getLogger(__name__)

MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value
BATCH = 100  # params/metrics per log_batch request


def _warn(what: str, exc: Exception) -> None:
    log.warning(
        "MLflow: could not %s (%s: %s); the files are complete", what, type(exc).__name__, exc
    )


def settings(output_dir: str | Path, section: Any) -> dict | None:
    """The store settings of a pipeline (``section``: its ``mlflow`` config section or a
    mapping of its keys); None when disabled."""
    from dreem.config.pipeline import MlflowConfig

    if not isinstance(section, MlflowConfig):
        section = MlflowConfig.model_validate(dict(section or {}))
    if not section.enabled:
        return None
    out = Path(output_dir).resolve()
    uri = section.tracking_uri or f"sqlite:///{out / 'mlflow.db'}"
    return {
        "tracking_uri": uri,
        "experiment": section.experiment,
        "artifact_location": (out / "mlflow-artifacts").as_uri(),
    }


def settings_from_config(config: Mapping) -> dict | None:
    """:func:`settings` from a raw pipeline config mapping (what a rule script gets as
    ``snakemake.config``; the Snakefile validated it already)."""
    return settings(config.get("output_dir") or "results", config.get("mlflow") or {})


def _mlflow():
    try:
        import mlflow  # noqa: F401
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise ConfigError(
            "mlflow.enabled: MLflow is not installed (pip install 'dreem-pipeline[mlflow]'), "
            "or set mlflow.enabled: false in the pipeline config (--no-mlflow on the CLI)"
        ) from exc
    return MlflowClient


def _require_mlflow() -> None:
    """:func:`_mlflow`'s error when MLflow is not installed, without importing it."""
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        _mlflow()


@contextlib.contextmanager
def _locked(cfg: Mapping) -> Iterator[None]:
    """Serialise access to a SQLite store across processes (no-op for other stores)."""
    uri = str(cfg["tracking_uri"])
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(uri[len("sqlite:///") :])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _client(cfg: Mapping):
    """``(client, experiment_id)``; the experiment is created on first use, a new SQLite
    store from the template (:mod:`dreem.pipeline.mlflow_template`). Call under
    :func:`_locked`."""
    from dreem.pipeline import mlflow_template as template

    client_cls = _mlflow()
    new_db = template.new_sqlite_store(str(cfg["tracking_uri"]))
    seeded = new_db is not None and template.seed(new_db)
    try:
        client, exp = _open(client_cls, cfg)
    except Exception:
        if seeded:  # MLflow refused the copy: the next attempt creates the store itself
            template.discard(new_db)
        raise
    if new_db is not None and not seeded:
        template.save(new_db)
    if exp is not None:
        return client, exp.experiment_id
    return client, client.create_experiment(
        cfg["experiment"], artifact_location=cfg.get("artifact_location")
    )


def _open(client_cls, cfg: Mapping):
    """A client of the store and the pipeline's experiment (None when it is new)."""
    client = client_cls(tracking_uri=cfg["tracking_uri"])
    return client, client.get_experiment_by_name(cfg["experiment"])


def flatten(tree: Mapping, prefix: str = "") -> dict[str, str]:
    """``{"model": {"d_model": 32}}`` → ``{"model.d_model": "32"}`` (values as JSON, cut to
    MLflow's limit)."""
    out: dict[str, str] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, f"{key}."))
        else:
            text = v if isinstance(v, str) else json.dumps(v, default=str)
            out[key] = text[:MAX_PARAM_CHARS]
    return out


def _log_params(client, run_id: str, params: Mapping[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k[:250], v) for k, v in sorted(params.items())]
    for i in range(0, len(items), BATCH):
        client.log_batch(run_id, params=items[i : i + BATCH])


def log_metrics(cfg: Mapping, run_id: str, values: Mapping[str, float], step: int = 0) -> None:
    """Log finite ``values`` to a run at ``step``."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [
        Metric(k, float(v), now, int(step))
        for k, v in sorted(values.items())
        if v is not None and math.isfinite(float(v))
    ]
    with _locked(cfg):
        client, _ = _client(cfg)
        for i in range(0, len(items), BATCH):
            client.log_batch(run_id, metrics=items[i : i + BATCH])


def start_run(
    cfg: Mapping, model: str, kind: str, params: Mapping | None, tags: Mapping[str, str]
) -> str:
    """Create a run named ``model`` (or reuse an interrupted one with the same
    ``dreem.fingerprint`` tag: a resumed training run continues its record)."""
    all_tags = {"dreem.model": model, "dreem.kind": kind, **tags}
    with _locked(cfg):
        client, exp_id = _client(cfg)
        fp = all_tags.get("dreem.fingerprint")
        if fp:
            found = client.search_runs(
                [exp_id],
                f"tags.`dreem.fingerprint` = '{fp}' and attributes.status = 'RUNNING'",
                max_results=1,
            )
            if found:
                log.info("MLflow: continuing run %s of model %s", found[0].info.run_id, model)
                return found[0].info.run_id
        run = client.create_run(exp_id, tags=all_tags, run_name=model)
        if params:
            _log_params(client, run.info.run_id, flatten(params))
    log.info("MLflow: run %s (%s) in %s", run.info.run_id, model, cfg["tracking_uri"])
    return run.info.run_id


def finish_run(
    cfg: Mapping,
    run_id: str,
    artifacts: Sequence[Path] = (),
    record: Mapping | None = None,
    status: str = "FINISHED",
) -> None:
    """Log ``artifacts`` (files that exist) and ``record`` (as ``record.json``), then end the
    run with ``status``."""
    with _locked(cfg):
        client, _ = _client(cfg)
        for path in artifacts:
            if Path(path).is_file():
                client.log_artifact(run_id, str(path))
        if record is not None:
            client.log_dict(run_id, dict(record), "record.json")
        client.set_terminated(run_id, status)


def model_run(cfg: Mapping, model: str, kind: str, tags: Mapping[str, str] | None = None) -> str:
    """The run that made ``model``: its latest finished run; a baseline or given checkpoint
    (no training here) gets one run of its own, created once (so does a model trained
    while MLflow was off)."""
    with _locked(cfg):
        client, exp_id = _client(cfg)
        found = client.search_runs(
            [exp_id],
            f"tags.`dreem.model` = '{model}' and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if found:
            return found[0].info.run_id
        if kind == "trained":  # trained while MLflow was off: record its evaluation anyway
            log.warning("MLflow: no training run of model %r; creating one", model)
        run = client.create_run(
            exp_id, tags={"dreem.model": model, "dreem.kind": kind, **(tags or {})}, run_name=model
        )
        client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id


def open_record(cfg: Mapping | None):
    """Start the child process that records a training run
    (:class:`dreem.pipeline.mlflow_worker.TrainingRecordProcess`): it imports MLflow and
    opens the store at once, while the caller goes on (extraction, imports). None when
    ``cfg`` is None (MLflow off) or in a non-main process of a multi-process run. A missing
    MLflow install is a clear error here, before any training."""
    if not cfg:
        return None
    _require_mlflow()
    from dreem.training.ddp import is_main_process

    if not is_main_process():
        return None
    from dreem.pipeline.mlflow_worker import TrainingRecordProcess

    return TrainingRecordProcess(cfg)


@contextlib.contextmanager
def closed_on_error(record) -> Iterator[None]:
    """Close ``record`` (:func:`open_record`; None is fine) when the block raises: no run
    was started yet, so the child process just exits."""
    try:
        yield
    except BaseException:
        if record is not None:
            record.close()
        raise


def training_callback(record, model: str, params: Mapping, tags: Mapping[str, str]):
    """A Lightning callback that records one training run through ``record``
    (:func:`open_record`; None records nothing): the run starts at once, each epoch's
    ``callback_metrics`` are logged at step = epoch, a crash marks it FAILED.

    The MLflow calls run in the record's child process at a lower CPU priority
    (:mod:`dreem.pipeline.mlflow_worker`), so importing MLflow and opening or creating the
    store never slow training. ``close(artifacts, record)`` finishes the run (FAILED with
    ``failed=True``), waits until the record is written and returns the run id (None when
    the run could not start)."""
    import lightning as L

    class MlflowEpochs(L.Callback):
        def __init__(self) -> None:
            self._record = record
            self._finished = False
            if self._record is not None:
                self._record.send("start", model=model, kind="trained", params=params, tags=tags)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            if self._record is None or not trainer.is_global_zero or trainer.sanity_checking:
                return
            values = {}
            for k, v in trainer.callback_metrics.items():
                with contextlib.suppress(TypeError, ValueError, RuntimeError):
                    values[k] = float(v)
            self._record.send("log", values=values, step=int(trainer.current_epoch))

        def on_exception(self, trainer, pl_module, exception) -> None:
            self._finish(status="FAILED")

        def _finish(self, **fields: Any) -> None:
            if self._record is not None and not self._finished:
                self._record.send("finish", **fields)
                self._finished = True

        def close(
            self, artifacts: Sequence[Path] = (), record: Mapping | None = None, failed=False
        ) -> str | None:
            if self._record is None:
                return None
            status = "FAILED" if failed else "FINISHED"
            self._finish(artifacts=[str(p) for p in artifacts], record=record, status=status)
            run_id, self._record = self._record.close(), None
            return run_id

    return MlflowEpochs()


def log_evaluation(cfg: Mapping, means, models: Mapping[str, Mapping], report: Path) -> dict:
    """Log each model's evaluation values (``means``: a wide table indexed by dataset and
    model, e.g. the report's dataset values: scores averaged over videos, counts summed) to
    the run that made it; ``models``: name → provenance (``kind``...). Returns
    ``{model: run_id}``."""
    runs = {}
    for model in sorted({m for _, m in means.index}):
        info = models.get(model, {})
        kind = info.get("kind", "trained")
        tags = {"dreem.checkpoint": str(info["checkpoint"])} if info.get("checkpoint") else {}
        run_id = model_run(cfg, model, kind, tags)
        values = {
            f"eval/{ds}/{metric}": v
            for (ds, m), row in means.iterrows()
            if m == model
            for metric, v in row.items()
        }
        log_metrics(cfg, run_id, values)
        with _locked(cfg):
            client, _ = _client(cfg)
            client.set_tag(run_id, "dreem.report", str(Path(report).resolve()))
        runs[model] = run_id
    return runs


def recorded_training(
    cfg: Mapping | None,
    model: str,
    params: dict,
    code: dict,
    train: Sequence[Path],
    val: Sequence[Path],
    out_dir: Path,
    val_tracker: dict | None = None,
    record=None,
) -> dict:
    """:func:`dreem.pipeline.jobs.train_job`, recorded as an MLflow run named ``model`` when
    ``cfg`` (:func:`settings`) is given. Used by the train rule and ``dreem train``; kept
    out of the job function so that MLflow changes never retrain a model. ``record``: a
    record the caller opened early (:func:`open_record`), else one is opened here."""
    from dreem.pipeline.jobs import train_job

    if not cfg:
        return train_job(params, code, train, val, out_dir, model=model, val_tracker=val_tracker)
    from dreem.training.resume import run_fingerprint

    out_dir = Path(out_dir)
    inputs = [Path(p) for p in (*train, *val)]
    if record is None:
        record = open_record(cfg)  # not installed: a clear error before training, not after
    with closed_on_error(record):
        fingerprint = run_fingerprint({"params": params, "code": code}, inputs)
    tags = {
        "dreem.fingerprint": fingerprint,
        "dreem.train_dir": str(out_dir.resolve()),
        "dreem.train_shards": json.dumps([str(p) for p in train]),
        "dreem.val_shards": json.dumps([str(p) for p in val]),
    }
    recorder = training_callback(record, model, params["cfg"], tags)
    try:
        result = train_job(
            params, code, train, val, out_dir, model, callbacks=[recorder], val_tracker=val_tracker
        )
    except BaseException:
        recorder.close(failed=True)
        raise
    summary = {k: v for k, v in result.items() if isinstance(v, int | float | str | None)}
    if result.get("best_ckpt"):
        summary["best_checkpoint"] = str(Path(result["best_ckpt"]).resolve())
    artifacts = [out_dir / n for n in ("config.yaml", "curves.png", "metrics.csv")]
    run_id = recorder.close(artifacts, summary)
    return {**result, "mlflow_run_id": run_id} if run_id is not None else result


def record_summary(cfg: Mapping | None, summary: Mapping, provenance: Mapping | None) -> dict:
    """Log an aggregate job's evaluation means (``summary``: what
    :func:`dreem.evaluation.aggregate.aggregate` returned) to each model's run; nothing when
    ``cfg`` is None. Used by the aggregate rule and ``dreem eval``."""
    values = summary.get("values", summary["means"])
    if not cfg or not len(values):
        return {}
    _mlflow()  # not installed: a clear error
    models = dict((provenance or {}).get("models", {}))
    values = values.drop(columns=["videos"], errors="ignore")
    try:
        return log_evaluation(cfg, values, models, Path(summary["html"]))
    except Exception as exc:  # a side record: the summary files are written
        _warn("log the evaluation", exc)
        return {}
