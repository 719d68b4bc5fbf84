"""``dreem synth DIR --identity``: wired to generate_identity_benchmark (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import dreem.synth.identity_bench as ib
from dreem.cli import app


def test_synth_identity_calls_the_benchmark_generator(tmp_path: Path, monkeypatch):
    calls = []

    def fake(out_dir, spec=None, seed=0, progress=False):
        calls.append((Path(out_dir), spec, seed))
        return {"seed": seed, "spec_hash": "abc", "seconds": {"total": 1.0}, "files": {}}

    monkeypatch.setattr(ib, "generate_identity_benchmark", fake)
    res = CliRunner().invoke(app, ["synth", str(tmp_path / "ib"), "--identity", "--seed", "4"])
    assert res.exit_code == 0, res.output
    assert calls == [(tmp_path / "ib", None, 4)]
    assert json.loads(res.output) == {"seed": 4, "spec_hash": "abc", "seconds": {"total": 1.0}}
