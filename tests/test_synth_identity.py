"""Tests for the hard identity clips (dreem.synth.identity, looks, chase) and the benchmark
data (dreem.synth.identity_bench): determinism, occluders, gaps, labels, held-apart looks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sio = pytest.importorskip("sleap_io")

from dreem.config.tracker import TrackerConfig  # noqa: E402
from dreem.evaluation.evaluate import evaluate_tracks  # noqa: E402
from dreem.inference.baseline import CentroidTracker  # noqa: E402
from dreem.synth.identity import (  # noqa: E402
    ClipSpec,
    clip_detections,
    occluder_coverage,
    render_clean_frame,
    render_identity_frames,
    simulate_identity_clip,
    write_identity_clip,
    write_untracked_slp,
)
from dreem.synth.identity_bench import (  # noqa: E402
    DONE_NAME,
    generate_identity_benchmark,
    resolve_identity_spec,
)
from dreem.synth.looks import Distinctness, look_distance, sample_look  # noqa: E402
from dreem.synth.render import NODE_NAMES  # noqa: E402

# 4 fast animals in 256², 2 occluders, frequent gaps: small but hard for position
HARD = ClipSpec(
    n_animals=4,
    n_frames=100,
    size=(256, 256),
    body_length=24.0,
    attraction=0.5,
    n_occluders=2,
    gap_rate=0.05,
)
TINY_BENCH = {
    "clip": {"size": [128, 128], "n_frames": 24, "body_length": 20.0},
    "test": [
        {"name": "a", "n_animals": 3},
        {"name": "b", "n_animals": 4, "n_occluders": 1, "gap_rate": 0.05},
    ],
    "train": {"n_clips": 3, "n_frames": [8, 12], "size": [96, 96]},
    "val": {"n_clips": 1, "n_frames": [10, 10], "size": [96, 96]},
}


@pytest.fixture(scope="module")
def clip():
    """The HARD clip, seed 0 (simulated, not rendered)."""
    return simulate_identity_clip(HARD, seed=0)


@pytest.fixture(scope="module")
def written(tmp_path_factory, clip) -> tuple[Path, Path]:
    """The HARD clip written twice (folders a and b) plus its untracked predictions in a."""
    root = tmp_path_factory.mktemp("identity")
    out = {}
    for sub in ("a", "b"):
        out[sub] = write_identity_clip(simulate_identity_clip(HARD, seed=0), root / sub, "clip")
    write_untracked_slp(clip, root / "a" / "clip.untracked.slp", "clip.mp4")
    return root / "a", root / "b"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    """A tiny identity benchmark (two 24-frame 128² test clips, 3+1 pool clips), seed 5."""
    out = tmp_path_factory.mktemp("bench")
    generate_identity_benchmark(out, TINY_BENCH, seed=5)
    return out


def _switches(frame_idx, track_id, gt) -> int:
    df = pd.DataFrame({"frame_idx": frame_idx, "track_id": track_id, "gt_track_id": gt})
    summary, _ = evaluate_tracks(df, metrics=["num_switches"])
    return int(summary.value.iloc[0])


def test_simulation_is_deterministic(clip):
    again = simulate_identity_clip(HARD, seed=0)
    other = simulate_identity_clip(HARD, seed=1)
    for name in ("xy", "heading", "gait", "poses", "occluded", "gap"):
        np.testing.assert_array_equal(getattr(again, name), getattr(clip, name))
    assert again.looks == clip.looks and again.occluders == clip.occluders
    assert not np.allclose(other.xy, clip.xy)
    assert other.looks != clip.looks


def test_written_labels_and_frames_are_identical(written):
    a, b = written
    assert (a / "clip.slp").read_bytes() == (b / "clip.slp").read_bytes()
    assert (a / "clip.json").read_text() == (b / "clip.json").read_text()
    fa = sio.load_video(str(a / "clip.mp4"))[:]
    fb = sio.load_video(str(b / "clip.mp4"))[:]
    assert fa.shape == (HARD.n_frames, *HARD.size, 1)
    np.testing.assert_array_equal(fa, fb)


def test_speed_regime_pauses_and_dashes(clip):
    steps = np.linalg.norm(np.diff(clip.xy, axis=0), axis=-1) / HARD.body_length
    assert 0.6 < steps.mean() < 1.0  # about 0.75 body lengths per frame
    assert {0, 1, 2} <= set(np.unique(clip.gait))  # walks, pauses and dashes
    assert steps[clip.gait[1:] == 1].mean() < 0.3 < 1.2 < steps[clip.gait[1:] == 2].mean()


def test_occluders_hide_animals_and_remove_their_detections(clip):
    assert clip.occluded.any() and not clip.occluded.all()
    x, y = clip.xy[..., 0], clip.xy[..., 1]
    np.testing.assert_array_equal(clip.occluded, occluder_coverage(clip.occluders, x, y) >= 0.5)
    det = clip_detections(clip)
    hidden = set(zip(*np.nonzero(clip.occluded), strict=True))
    assert not hidden & set(zip(det.frame_idx.tolist(), det.gt_track_id.tolist(), strict=True))
    # drawing the hidden animal or not changes nothing at its body centre
    t, k = next(iter(sorted(hidden)))
    others = [j for j in range(HARD.n_animals) if j != k]
    full, without = render_clean_frame(clip, t), render_clean_frame(clip, t, animals=others)
    cx, cy = np.rint(clip.xy[t, k]).astype(int)
    assert full[cy, cx] == pytest.approx(without[cy, cx], abs=0.5)
    # ... while a visible animal does change its centre pixel
    t2, k2 = map(int, np.argwhere(clip.detected)[0])
    rest = [j for j in range(HARD.n_animals) if j != k2]
    vx, vy = np.rint(clip.xy[t2, k2]).astype(int)
    gone = render_clean_frame(clip, t2, animals=rest)
    assert abs(render_clean_frame(clip, t2)[vy, vx] - gone[vy, vx]) > 20


def test_gaps_are_one_to_three_frames(clip):
    assert clip.gap.sum() > 10
    assert not (clip.gap & clip.occluded).any()
    lengths = []
    for k in range(HARD.n_animals):
        padded = np.r_[False, clip.gap[:, k], False].astype(int)
        edges = np.flatnonzero(np.diff(padded))
        lengths += list(edges[1::2] - edges[::2])
    assert set(lengths) <= {1, 2, 3} and len(set(lengths)) >= 2


def test_slp_reads_back_with_expected_counts(written, clip):
    a, _ = written
    labels = sio.load_slp(str(a / "clip.slp"))
    assert [n.name for n in labels.skeleton.nodes] == list(NODE_NAMES)
    assert len(labels.tracks) == HARD.n_animals
    assert sum(len(lf.instances) for lf in labels) == int(clip.detected.sum())
    assert all(type(i) is sio.Instance and i.track is not None for lf in labels for i in lf)
    for lf in labels:
        ks = sorted(labels.tracks.index(i.track) for i in lf.instances)
        assert ks == list(np.flatnonzero(clip.detected[lf.frame_idx]))
        for inst in lf.instances:
            k = labels.tracks.index(inst.track)
            np.testing.assert_allclose(inst.numpy(), clip.poses[lf.frame_idx, k], atol=1e-4)
    assert Path(labels.video.filename) == a / "clip.mp4"  # stored as a bare name

    untracked = sio.load_slp(str(a / "clip.untracked.slp"))
    assert not untracked.tracks
    insts = [i for lf in untracked for i in lf.instances]
    assert len(insts) == int(clip.detected.sum())
    assert all(type(i) is sio.PredictedInstance and i.track is None for i in insts)
    info = json.loads((a / "clip.json").read_text())
    assert info["n_detections"] == int(clip.detected.sum()) and len(info["looks"]) == 4


def test_looks_within_a_clip_are_distinct_beyond_brightness(clip):
    rule = Distinctness()
    looks = clip.looks
    for i in range(len(looks)):
        for j in range(i + 1, len(looks)):
            assert look_distance(looks[i], looks[j]) >= rule.min_distance
            same_level = look_distance(looks[i], looks[j], ignore_brightness=True)
            assert same_level >= rule.min_pattern_distance


def test_look_distance_sees_patterns_and_wings():
    rng = np.random.default_rng(3)
    look = sample_look(rng)
    assert look_distance(look, look) == 0.0
    import attrs

    brighter = attrs.evolve(look, brightness=look.brightness + 40)
    assert look_distance(look, brighter) > 20
    assert look_distance(look, brighter, ignore_brightness=True) == 0.0
    winged = attrs.evolve(look, wing_opacity=0.7, wing_length=0.7, wing_grey=230.0)
    bare = attrs.evolve(look, wing_opacity=0.0)
    assert look_distance(winged, bare) > 10


def _body_descriptor(frame: np.ndarray, pose: np.ndarray, body_length: float) -> np.ndarray:
    """Grey levels sampled on a 9x3 grid along the body axis (abdomen -> head)."""
    from scipy.ndimage import map_coordinates

    head, abdomen = pose[0], pose[2]
    centre = (head + abdomen) / 2
    d = (head - abdomen) / np.linalg.norm(head - abdomen)
    side = np.array([-d[1], d[0]])
    u = np.linspace(-0.45, 0.45, 9)[:, None, None] * body_length
    v = np.linspace(-0.15, 0.15, 3)[None, :, None] * body_length
    pts = centre + u * d + v * side
    coords = [pts[..., 1].ravel(), pts[..., 0].ravel()]
    return map_coordinates(frame.astype(np.float32), coords, order=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_hard_for_position_easy_for_appearance(seed):
    """The centroid linker switches often; linking each frame's detections to the known
    individuals' looks (a template per individual) almost never does."""
    from scipy.optimize import linear_sum_assignment

    c = simulate_identity_clip(HARD, seed=seed)
    frames = render_identity_frames(c)
    det = clip_detections(c)
    centroid = CentroidTracker(TrackerConfig(max_tracks=HARD.n_animals))
    res = centroid.track_video(det.frame_idx, det.boxes, det.centroid)
    assert _switches(det.frame_idx, res.track_id, det.gt_track_id) >= 40
    assert _switches(det.frame_idx, det.gt_track_id, det.gt_track_id) == 0  # identity oracle

    desc = np.stack(
        [
            _body_descriptor(frames[t], p, 24.0)
            for t, p in zip(det.frame_idx, det.poses, strict=True)
        ]
    )
    templates = np.stack(
        [np.median(desc[det.gt_track_id == k], axis=0) for k in range(HARD.n_animals)]
    )
    by_look = np.full(len(desc), -1)
    for t in np.unique(det.frame_idx):
        rows = np.flatnonzero(det.frame_idx == t)
        cost = np.abs(desc[rows][:, None] - templates[None]).mean(-1)
        r, k = linear_sum_assignment(cost)
        by_look[rows[r]] = k
    assert _switches(det.frame_idx, by_look, det.gt_track_id) <= 4


def test_benchmark_layout_and_done_marker(bench):
    info = json.loads((bench / DONE_NAME).read_text())
    assert [f["name"] for f in info["files"]["test"]] == ["a", "b"]
    assert len(info["files"]["train"]) == 3 and len(info["files"]["val"]) == 1
    for split in ("train", "val", "test"):
        for rec in info["files"][split]:
            assert (bench / split / rec["slp"]).is_file()
            assert (bench / split / rec["slp"]).with_suffix(".mp4").is_file()
    for name in ("a", "b"):
        untracked = bench / "test_untracked" / f"{name}.slp"
        labels = sio.load_slp(str(untracked))
        assert labels.video.exists() and not labels.tracks
        assert (bench / "test_untracked" / f"{name}.mp4").samefile(bench / "test" / f"{name}.mp4")
    assert not list(bench.glob(".*"))  # no temporary folders left


def test_pool_individuals_are_held_apart_from_test(bench):
    info = json.loads((bench / DONE_NAME).read_text())
    keys = {s: {k for f in info["files"][s] for k in f["individuals"]} for s in info["files"]}
    assert not keys["test"] & (keys["train"] | keys["val"])
    assert not keys["train"] & keys["val"]

    def looks(split):
        from dreem.synth.looks import Look

        out = []
        for rec in info["files"][split]:
            data = json.loads((bench / split / f"{rec['name']}.json").read_text())
            out += [Look.from_dict(d) for d in data["looks"]]
        return out

    rule = Distinctness(**resolve_identity_spec(TINY_BENCH)["distinct"])
    test = looks("test")
    for pool_look in looks("train") + looks("val"):
        for t in test:
            assert look_distance(pool_look, t) >= rule.min_distance
            assert look_distance(pool_look, t, ignore_brightness=True) >= rule.min_pattern_distance


def test_test_set_does_not_depend_on_the_pools(bench, tmp_path):
    """Structural: changing the pools never changes the test clips (separate seed streams)."""
    train = {**TINY_BENCH["train"], "n_clips": 1, "n_frames": [6, 6]}
    spec = {**TINY_BENCH, "train": train, "val": {"n_clips": 0}}
    generate_identity_benchmark(tmp_path, spec, seed=5)
    for name in ("a.slp", "b.slp", "a.json", "b.json"):
        assert (tmp_path / "test" / name).read_bytes() == (bench / "test" / name).read_bytes()
    # a pool clip's individuals come from their own streams: its length does not change them
    short = json.loads((tmp_path / "train" / "pool_000.json").read_text())
    longer = json.loads((bench / "train" / "pool_000.json").read_text())
    assert short["spec"]["n_frames"] != longer["spec"]["n_frames"]
    assert short["looks"] == longer["looks"]


def test_spec_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown"):
        resolve_identity_spec({"train": {"n_clipz": 3}})
    with pytest.raises(ValueError, match="unknown section"):
        resolve_identity_spec({"tets": []})
    with pytest.raises(ValueError, match="unknown ClipSpec key"):
        ClipSpec.from_dict({"n_animal": 3})
