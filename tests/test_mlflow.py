"""MLflow record of a pipeline: store settings, a recorded training run, evaluation metrics
on the run that made the model, read back through a real tracking server's REST API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from dreem.pipeline import mlflow_log
from dreem.utils.errors import ConfigError


def test_settings_default_to_one_sqlite_store_per_output(tmp_path: Path) -> None:
    cfg = mlflow_log.settings(tmp_path / "results", {})
    assert cfg["tracking_uri"] == f"sqlite:///{(tmp_path / 'results').resolve()}/mlflow.db"
    assert cfg["experiment"] == "dreem-pipeline"
    assert cfg["artifact_location"].startswith("file://")
    assert mlflow_log.settings(tmp_path, {"enabled": False}) is None
    raw = {"output_dir": str(tmp_path / "o"), "mlflow": {"experiment": "lab"}}
    assert mlflow_log.settings_from_config(raw)["experiment"] == "lab"
    with pytest.raises(Exception, match="enabled"):
        mlflow_log.settings(tmp_path, {"enabled": "yes please"})


def test_missing_mlflow_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    cfg = mlflow_log.settings(tmp_path, {})
    with pytest.raises(ConfigError, match=r"mlflow.enabled: MLflow is not installed .*\[mlflow\]"):
        mlflow_log.start_run(cfg, "m", "trained", None, {})


def test_library_imports_without_mlflow() -> None:
    """MLflow is an optional extra: importing the library and the planner never needs it."""
    code = (
        "import sys; sys.modules['mlflow'] = None\n"
        "import dreem.pipeline.plan, dreem.pipeline.jobs, dreem.pipeline.mlflow_log, dreem.cli\n"
        "assert 'mlflow.tracking' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``mlflow server`` on 127.0.0.1 over a store; ``get``/``post`` its REST API."""

    def __init__(self, store_uri: str, workdir: Path):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("mlflow")
        cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "mlflow"]
        cmd += ["server", "--backend-store-uri", store_uri, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--workers", "1"]
        self.log = open(workdir / "mlflow-server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)

    def wait(self, timeout: float = 120) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            assert self.proc.poll() is None, Path(self.log.name).read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("mlflow server did not start:\n" + Path(self.log.name).read_text())

    def get(self, path: str, **query) -> dict:
        url = f"{self.base}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            f"{self.base}/api/2.0/mlflow/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def runs_by_name(server: Server, experiment: str = "dreem-pipeline") -> dict[str, dict]:
    exp = server.get("experiments/get-by-name", experiment_name=experiment)["experiment"]
    runs = server.post("runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]
    return {r["info"]["run_name"]: r for r in runs}


@pytest.mark.slow
def test_training_and_evaluation_read_through_the_server(tmp_path: Path) -> None:
    from test_train import _write_shard, tiny_cfg

    from dreem.pipeline.code import job_code

    train = [_write_shard(tmp_path / "a.parquet", "a", 8, 3, 0)]
    val = [_write_shard(tmp_path / "b.parquet", "b", 8, 3, 1)]
    out = tmp_path / "results"
    cfg = mlflow_log.settings(out, {})
    params = {"cfg": tiny_cfg(max_epochs=2).to_dict()}
    train_dir = out / "models" / "gtr" / "train"
    result = mlflow_log.recorded_training(
        cfg, "gtr", params, job_code("train_job"), train, val, train_dir
    )
    means = pd.DataFrame(
        {"idf1": [0.9, 0.7], "num_switches": [1.0, 3.0]},
        index=pd.MultiIndex.from_tuples(
            [("clips", "gtr"), ("clips", "baseline")], names=["dataset", "model"]
        ),
    )
    kinds = {"gtr": {"kind": "trained"}, "baseline": {"kind": "baseline"}}
    runs = mlflow_log.log_evaluation(cfg, means, kinds, out / "summary" / "report.html")
    assert runs["gtr"] == result["mlflow_run_id"]  # evaluation lands on the training run

    server = Server(cfg["tracking_uri"], tmp_path)
    try:
        server.wait()
        found = runs_by_name(server)
        assert set(found) == {"gtr", "baseline"}
        gtr = found["gtr"]
        assert gtr["info"]["status"] == "FINISHED"
        params = {p["key"]: p["value"] for p in gtr["data"]["params"]}
        assert params["model.d_model"] == "32" and params["trainer.max_epochs"] == "2"
        tags = {t["key"]: t["value"] for t in gtr["data"]["tags"]}
        assert tags["dreem.kind"] == "trained" and tags["dreem.model"] == "gtr"
        metrics = {m["key"]: m["value"] for m in gtr["data"]["metrics"]}
        assert metrics["eval/clips/idf1"] == pytest.approx(0.9)
        history = server.get(
            "metrics/get-history", run_id=gtr["info"]["run_id"], metric_key="val_loss"
        )
        assert sorted(m["step"] for m in history["metrics"]) == [0, 1]  # one per epoch
        files = server.get("artifacts/list", run_id=gtr["info"]["run_id"]).get("files", [])
        names = {f["path"] for f in files}
        assert {"config.yaml", "curves.png", "metrics.csv", "record.json"} <= names
        base = {m["key"]: m["value"] for m in found["baseline"]["data"]["metrics"]}
        assert base["eval/clips/num_switches"] == 3.0
    finally:
        server.stop()
    record = json.loads(next((out / "mlflow-artifacts").rglob("record.json")).read_text())
    assert record["best_checkpoint"] == str((train_dir / "best.ckpt").resolve())


def test_a_broken_store_is_a_warning_not_a_lost_report(tmp_path: Path, caplog) -> None:
    cfg = {**mlflow_log.settings(tmp_path, {}), "tracking_uri": "sqlite:////proc/no/mlflow.db"}
    means = pd.DataFrame(
        {"idf1": [0.9]}, index=pd.MultiIndex.from_tuples([("d", "m")], names=["dataset", "model"])
    )
    summary = {"means": means, "html": tmp_path / "report.html"}
    assert mlflow_log.record_summary(cfg, summary, {}) == {}
    assert "MLflow: could not log the evaluation" in caplog.text


def _store_runs(cfg: dict) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=cfg["tracking_uri"])
    exp = client.get_experiment_by_name(cfg["experiment"])
    return [] if exp is None else client.search_runs([exp.experiment_id])


def test_worker_serves_requests_in_order(tmp_path: Path) -> None:
    """The recording child's protocol, in process: start, two epochs, finish."""
    from dreem.pipeline.mlflow_worker import serve

    cfg = mlflow_log.settings(tmp_path, {})
    (tmp_path / "config.yaml").write_text("seed: 1\n")
    lines = [
        json.dumps({"op": "log", "values": {"x": 1.0}, "step": 0}),  # before start: ignored
        json.dumps(
            {"op": "start", "model": "m", "kind": "trained", "params": {"a": {"b": 2}}, "tags": {}}
        ),
        json.dumps({"op": "log", "values": {"val_loss": 0.5}, "step": 0}),
        json.dumps({"op": "log", "values": {"val_loss": 0.25, "nan": float("nan")}, "step": 1}),
        json.dumps(
            {
                "op": "finish",
                "artifacts": [str(tmp_path / "config.yaml"), str(tmp_path / "missing.png")],
                "record": {"epochs": 2},
                "status": "FINISHED",
            }
        ),
    ]
    run_id = serve(cfg, lines)
    (run,) = _store_runs(cfg)
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    assert run.data.params == {"a.b": "2"} and run.data.metrics == {"val_loss": 0.25}
    assert "x" not in run.data.metrics
    arts = {Path(p).name for p in (tmp_path / "mlflow-artifacts").rglob("*") if p.is_file()}
    assert arts == {"config.yaml", "record.json"}


def test_a_training_that_fails_is_recorded_failed(tmp_path: Path) -> None:
    from test_train import tiny_cfg

    from dreem.pipeline.code import job_code
    from dreem.utils.errors import InputDataError

    cfg = mlflow_log.settings(tmp_path, {})
    params = {"cfg": tiny_cfg().to_dict()}
    broken = tmp_path / "broken_shard.parquet"
    broken.write_bytes(b"not a parquet file")
    with pytest.raises(InputDataError, match="broken_shard"):
        mlflow_log.recorded_training(
            cfg, "gtr", params, job_code("train_job"), [broken], [], tmp_path / "m"
        )
    (run,) = _store_runs(cfg)
    assert run.info.status == "FAILED" and run.info.run_name == "gtr"


@pytest.mark.slow
def test_an_unwritable_store_never_costs_the_training(tmp_path: Path, capfd) -> None:
    from test_train import _write_shard, tiny_cfg

    from dreem.pipeline.code import job_code

    train = [_write_shard(tmp_path / "a.parquet", "a", 8, 3, 0)]
    cfg = {**mlflow_log.settings(tmp_path, {}), "tracking_uri": "sqlite:////proc/no/mlflow.db"}
    params = {"cfg": tiny_cfg().to_dict()}
    result = mlflow_log.recorded_training(
        cfg, "gtr", params, job_code("train_job"), train, [], tmp_path / "m"
    )
    assert Path(result["best_ckpt"]).is_file() and "mlflow_run_id" not in result
    assert "MLflow: could not start the training run" in capfd.readouterr().err


def test_new_stores_start_from_a_cached_empty_store(tmp_path: Path, monkeypatch, caplog) -> None:
    """The first new store leaves an empty migrated copy in the cache; later new stores
    start from it (and still get their own Default experiment); a template MLflow refuses
    is dropped and the store is created the slow way."""
    import sqlite3

    from dreem.pipeline import mlflow_template

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = mlflow_template.template_path()
    assert not template.exists()

    def open_store(name: str) -> dict:
        cfg = mlflow_log.settings(tmp_path / name, {})
        with mlflow_log._locked(cfg):
            client, exp_id = mlflow_log._client(cfg)
        client.create_run(exp_id, run_name="m")
        return cfg

    open_store("a")
    with sqlite3.connect(template) as db:
        assert db.execute("select count(*) from experiments").fetchone() == (0,)
    seeded: list[Path] = []
    real_seed = mlflow_template.seed
    monkeypatch.setattr(mlflow_template, "seed", lambda db: seeded.append(db) or real_seed(db))
    cfg = open_store("b")
    assert seeded == [tmp_path / "b" / "mlflow.db"]
    names = {e.name for e in _client_of(cfg).search_experiments()}
    assert names == {"Default", "dreem-pipeline"} and len(_store_runs(cfg)) == 1

    template.write_bytes(b"not a database")
    cfg = open_store("c")
    assert len(_store_runs(cfg)) == 1 and "damaged" in caplog.text
    with sqlite3.connect(template) as db:  # made again from the new store
        assert db.execute("select count(*) from experiments").fetchone() == (0,)


def _client_of(cfg: dict):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=cfg["tracking_uri"])
