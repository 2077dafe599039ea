"""`nvr bench` end to end: real encoded clips, real processes, JSON a machine can read."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.clips import make_clip

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

ROOT = Path(__file__).resolve().parents[1]
W, H, N = 320, 240, 40
SCORE_KEYS = {"f_measure", "precision", "recall", "us_per_frame"}
THROUGHPUT_KEYS = {"channels", "decode_fps", "pipeline_fps", "pipeline_to_decode_ratio",
                   "realtime_channels_25fps", "overruns", "drops"}


def nvr(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nvr", "bench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def walking_box(n: int = N, contrast: float | None = None):
    """A person-sized box walking in from the left over a textured, noisy floor; frames and true masks.

    contrast None: the box is bright (200); else it is the floor plus `contrast` grey levels.
    """
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:H, 0:W]
    floor = 70 + 30 * ((xx // 16 + yy // 16) % 2)
    frames, masks = [], []
    for k in range(n):
        img = floor + rng.normal(0, 1.5, floor.shape)
        mask = np.zeros((H, W), np.uint8)
        x0, y0 = -30 + 8 * k, 100
        x, x1 = max(x0, 0), min(x0 + 40, W)
        if x1 > x:
            img[y0:y0 + 70, x:x1] = 200 if contrast is None else floor[y0:y0 + 70, x:x1] + contrast
            mask[y0 - 1:y0 + 71, max(x - 1, 0):min(x1 + 1, W)] = 170  # edges blur in the encoder: unknown
            mask[y0 + 1:y0 + 69, x + 1:x1 - 1] = 255
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        masks.append(mask)
    return frames, np.stack(masks)


def write_sequence(d: Path, contrast: float | None = None) -> Path:
    frames, masks = walking_box(contrast=contrast)
    make_clip(d / "input.mp4", frames, fps=25)
    np.savez_compressed(d / "groundtruth.npz", masks=masks)
    (d / "meta.yaml").write_text("fps: 25\n")
    return d


@pytest.fixture(scope="module")
def sequence_dir(tmp_path_factory) -> Path:
    return write_sequence(tmp_path_factory.mktemp("walk"))


def test_accuracy_json_scores_a_walking_box(sequence_dir):
    p = nvr("accuracy", str(sequence_dir), "--json", "--warmup", "5")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(lines) == 2
    seq, summary = lines
    assert set(seq) == {"sequence", "baselines"} | SCORE_KEYS
    assert seq["sequence"] == sequence_dir.name
    assert seq["f_measure"] > 0.7, seq
    assert seq["us_per_frame"] > 0
    if seq["baselines"]:  # OpenCV installed (the bench extra)
        assert set(seq["baselines"]) == {"mog2", "running_average"}
        for b in seq["baselines"].values():
            assert set(b) == SCORE_KEYS
            assert 0 <= b["f_measure"] <= 1 and b["us_per_frame"] > 0
    assert set(summary) == {"summary"}
    assert summary["summary"]["sequences"] == 1
    assert summary["summary"]["mean_f_measure"]["ours"] == pytest.approx(seq["f_measure"])


def test_accuracy_parameters_change_the_result(tmp_path):
    # A box only 25 grey levels off the floor: found at the default Detection
    # Sensitivity (threshold 12 levels), missed at 0 (threshold 40 levels).
    d = write_sequence(tmp_path, contrast=25)
    results = {}
    for v in (50, 0):
        p = nvr("accuracy", str(d), "--json", "--warmup", "5", "--no-baselines",
                "--param", f"detection_sensitivity={v}")
        assert p.returncode == 0, p.stderr
        seq, summary = (json.loads(line) for line in p.stdout.splitlines())
        assert seq["baselines"] == {}
        assert summary["summary"]["params"]["detection_sensitivity"] == v
        results[v] = seq
    assert results[50]["recall"] > 0.7, results
    assert results[0]["recall"] < 0.2, results


def test_accuracy_table_for_people(sequence_dir):
    p = nvr("accuracy", str(sequence_dir), "--warmup", "5", "--no-baselines")
    assert p.returncode == 0, p.stderr
    assert sequence_dir.name in p.stdout and "F 0." in p.stdout
    assert p.stderr == ""  # not a terminal: no progress line


@pytest.mark.parametrize("args,says", [
    (["accuracy", "/nonexistent/seq"], "not a directory"),
    (["accuracy", "{tmp}"], "groundtruth.npz"),
    (["accuracy", "{seq}", "--param", "sensitivity=5"], "NAME=VALUE"),
    (["accuracy", "{seq}", "--param", "detection_sensitivity=101"], "0..100"),
    (["throughput", "--source", "/nonexistent.mp4", "--channels", "2"], "no such file"),
    (["throughput", "--source", "{clip}", "--channels", "0"], "at least 1"),
    (["throughput", "--channels", "2"], "--source"),
    (["throughput", "--source", "{clip}"], "--channels N, or --find-capacity"),
    (["throughput", "--source", "{clip}", "--channels", "2", "--skip-loop-filter", "yes"], "invalid choice"),
])
def test_bad_arguments_are_one_line_exit_2(args, says, sequence_dir, tmp_path):
    fill = {"tmp": str(tmp_path), "seq": str(sequence_dir), "clip": str(sequence_dir / "input.mp4")}
    p = nvr(*[a.format(**fill) for a in args])
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and says in lines[0], p.stderr


def test_capacity_counts_lost_frames_not_single_slow_ones():
    from firmware.bench.throughput import RunResult, passes

    def run(**kw):
        base = dict(channels=4, seconds=10.0, frames=1000, analysed=1000, drops=0, overruns=0, skipped=0,
                    median_us=100.0, p99_us=300.0, budget_us=400.0, cpu_share=0.5, other_cpu_share=0.0,
                    rss_mb=100.0, min_channel_fps=25.0)
        return RunResult(**{**base, **kw})

    assert passes(run(), 25.0)
    assert passes(run(overruns=3), 25.0)          # a frame over its budget loses nothing
    assert not passes(run(skipped=1), 25.0)       # a frame the budget skipped was not analysed
    assert not passes(run(drops=1), 25.0)         # a frame the capture dropped was not captured
    assert not passes(run(min_channel_fps=20.0), 25.0)  # a channel below its frame rate


def test_throughput_json(sequence_dir):
    p = nvr("throughput", "--source", str(sequence_dir / "input.mp4"), "--channels", "2", "--seconds", "2",
            "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert THROUGHPUT_KEYS <= set(r)
    assert r["channels"] == 2
    for k in ("decode_fps", "pipeline_fps", "pipeline_to_decode_ratio", "realtime_channels_25fps"):
        assert r[k] > 0, (k, r)
    # The real-time run is paced like live cameras: never faster than 2 x 25 fps.
    assert 0 < r["realtime_fps"] <= 2 * 25 * 1.1, r
    assert isinstance(r["overruns"], int) and r["overruns"] <= r["analysed"], r
    # A capture cannot drop more frames than its source delivers (2 channels x 25 fps).
    assert isinstance(r["drops"], int) and r["drops"] <= 2 * 25 * r["seconds"] * 1.5, r
    # The machine's own overrun floor, timed at the real-time run's load and budget.
    f = r["machine_floor"]
    assert f["chunks"] > 0 and 0 <= f["over_budget"] <= f["chunks"], f
    # Calibrated to cost what a frame costs: on a shared 2-core machine both figures
    # move with the load, so the bound is generous (tests/test_bench_machine.py checks
    # the calibration itself); the figures are printed for the record.
    print(f"floor median {f['median_us']:.0f} us, frame median {r['median_us']:.0f} us")
    assert r["median_us"] / 4 <= f["median_us"] <= r["median_us"] * 4, (f, r["median_us"])
    assert f["expected_overruns"] == pytest.approx(f["rate"] * r["analysed"], abs=0.01)
