"""CLI stages: model names for -m arguments, and the pipeline configs the CLI plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreem.stages import model_specs, track_plan_config
from dreem.utils.errors import InputDataError


def _ckpt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_models_are_named_uniquely_never_by_file_name_alone(tmp_path: Path, monkeypatch) -> None:
    import dreem.models.checkpoint as checkpoint

    loaded = []  # every checkpoint is opened (a bad file fails before any output)
    monkeypatch.setattr(checkpoint, "check_checkpoint", loaded.append)
    a = _ckpt(tmp_path / "runA" / "best.ckpt")
    b = _ckpt(tmp_path / "runB" / "best.ckpt")
    c = _ckpt(tmp_path / "other" / "runA" / "best.ckpt")
    specs = model_specs([str(a), str(b), str(c), f"mine={a}", "baseline", "baseline:motion"])
    assert list(specs) == ["runA", "runB", "runA-2", "mine", "baseline", "baseline-motion"]
    assert specs["runA"]["checkpoint"] == str(a.resolve())
    assert specs["runA-2"]["checkpoint"] == str(c.resolve())
    assert specs["baseline-motion"] == {"baseline": "motion"}
    assert sorted(map(str, loaded)) == sorted(map(str, [a, b, c, a]))
    with pytest.raises(InputDataError, match="checkpoint not found"):
        model_specs([str(tmp_path / "missing.ckpt")])


def test_track_plan_config_for_files_device_and_render(tmp_path: Path) -> None:
    from dreem.synth import generate_animals

    slp, mp4 = generate_animals(tmp_path / "clips", "c", seed=0, n_animals=2, n_frames=4)
    cfg = track_plan_config(
        ["baseline"],
        None,
        tmp_path / "out",
        files={"slp_files": [str(slp)], "video_files": [str(mp4)]},
        device="cpu",
        render=True,
        mlflow=False,
    )
    assert cfg["datasets"] == {"clips": {"slp_files": [str(slp)], "video_files": [str(mp4)]}}
    assert cfg["track"] == {"datasets": ["clips"], "models": ["baseline"], "render": True}
    assert cfg["device"] == "cpu" and cfg["mlflow"] == {"enabled": False}
    with pytest.raises(InputDataError, match="no data"):
        track_plan_config(["baseline"], None, tmp_path / "out")
