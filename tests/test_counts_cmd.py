"""`nvr bench counts` end to end: a real rendered scene, real processes, errors reported as errors.

The scene is the first 16 s of the shipped `returning` scene rendered and
encoded afresh (data/make_samples.py), so its truth is exact; the tests then
doctor the truth file and check the command reports exactly the doctored
difference, with the analysis itself unchanged.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from data import make_samples, scenes
from tests.truth import area_truth, load_truth

pytestmark = pytest.mark.slow   # decodes the counting scenes; the fast tier (-m 'not slow') leaves it out

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 16.0


def nvr(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nvr", "bench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("scene")
    scene = scenes.COUNTING_SCENES["returning"]
    make_samples.generate_counting(scene, d, int(SECONDS * scenes.FPS))
    return d


@pytest.fixture(scope="module")
def measured(scene_dir):
    p = nvr("counts", str(scene_dir), "--json")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    return lines[0], lines[-1]["summary"]


def test_json_reports_visits_and_dwell_against_the_truth(scene_dir, measured):
    r, summary = measured
    truth = load_truth(scene_dir / "returning.truth.json")
    visits, dwell = area_truth(truth, truth["region"])   # the tests' own slow reference
    assert visits == 2 and dwell > 5     # walker 1 in, out for 5 s, back in: two visits
    assert (r["scene"], r["people"], r["visits_true"]) == ("returning", 1, visits)
    assert r["dwell_true"] == pytest.approx(dwell, abs=1e-3)
    assert r["width"] == 320 and r["frames"] == SECONDS * 25
    assert r["visits"] == visits                        # the analysis counts the two visits
    assert abs(r["dwell_error"]) < 0.05
    assert r["areas"][0]["area"] == "area 1" and r["areas"][0]["visits"] == r["visits"]
    assert 0 <= r["grid_error"] < 0.5
    assert summary["scenes"] == 1 and summary["scenes_visits_exact"] == 1


def test_a_known_error_is_reported_as_that_error(scene_dir, measured, tmp_path):
    ours, _ = measured
    truth = json.loads((scene_dir / "returning.truth.json").read_text())
    # the truth claims 3 more visits and 10 more seconds than the shipped truth: ours are unchanged
    truth["areas"] = [{"name": "left", "region": truth["region"], "visits": ours["visits_true"] + 3,
                       "dwell_seconds": ours["dwell_true"] + 10.0}]
    (tmp_path / "doctored.truth.json").write_text(json.dumps(truth))
    (tmp_path / "doctored.mp4").symlink_to(scene_dir / "returning.mp4")
    p = nvr("counts", str(tmp_path), "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.splitlines()[0])
    assert r["visits"] == ours["visits"] and r["dwell"] == ours["dwell"]
    assert r["visits_error"] == ours["visits_error"] - 3
    assert r["dwell_error"] == pytest.approx((ours["dwell"] - ours["dwell_true"] - 10) / (ours["dwell_true"] + 10),
                                             abs=1e-4)
    assert r["areas"][0]["area"] == "left"
    assert r["grid_error"] is not None      # the boxes still give the grid's truth


def test_table_for_people(scene_dir):
    p = nvr("counts", str(scene_dir))
    assert p.returncode == 0, p.stderr
    assert "returning" in p.stdout and "visits exact on 1 of 1 scenes" in p.stdout
    assert p.stderr == ""


def test_sweep_writes_json_and_a_png_beside_it(scene_dir, tmp_path):
    p = nvr("counts", str(scene_dir), "--sweep", "minimum_target_size", "--sweep-step", "100",
            "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    sweep = json.loads((tmp_path / "counts-sweep-minimum_target_size.json").read_text())
    assert [pt["value"] for pt in sweep["points"]] == [0, 100]
    assert all(pt["visits_true"] == 2 for pt in sweep["points"])
    with Image.open(tmp_path / "counts-sweep-minimum_target_size.png") as img:
        assert img.format == "PNG" and img.width >= 600
        colours = img.convert("RGB").getcolors(1 << 16)
        assert len(colours) > 3       # lines and text drawn, not an empty canvas


@pytest.mark.parametrize("args,says", [
    (["counts", "/nonexistent/scene"], "not a directory"),
    (["counts", "{tmp}"], ".truth.json"),
    (["counts", "{bad}"], "JSON object"),
    (["counts", "{scene}", "--param", "sensitivity=5"], "NAME=VALUE"),
    (["counts", "{scene}", "--sweep", "sensitivity"], "invalid choice"),
    (["counts", "{scene}", "--sweep", "scene_change_level", "--sweep-step", "0"], "at least 1"),
])
def test_bad_arguments_are_one_line_exit_2(args, says, scene_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.truth.json").write_text("[1, 2")
    (bad / "x.mp4").write_bytes(b"")
    fill = {"tmp": str(tmp_path), "bad": str(bad), "scene": str(scene_dir)}
    p = nvr(*[a.format(**fill) for a in args])
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert lines[-1].startswith("nvr") or lines[-1].startswith("error:") or "error" in lines[-1]
    assert says in p.stderr, p.stderr


def test_per_area_figures(scene_dir, tmp_path):
    truth = json.loads((scene_dir / "returning.truth.json").read_text())
    left = [[0.02, 0.38], [0.30, 0.38], [0.30, 0.97], [0.02, 0.97]]
    right = [[0.30, 0.38], [0.98, 0.38], [0.98, 0.97], [0.30, 0.97]]
    truth["areas"] = [{"name": "door", "region": left}, {"name": "shelf", "region": right}]
    (tmp_path / "two.truth.json").write_text(json.dumps(truth))
    (tmp_path / "two.mp4").symlink_to(scene_dir / "returning.mp4")
    p = nvr("counts", str(tmp_path / "two.truth.json"), "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.splitlines()[0])
    assert [a["area"] for a in r["areas"]] == ["door", "shelf"]
    for a, region in zip(r["areas"], (left, right)):
        assert (a["visits_true"], a["dwell_true"]) == pytest.approx(area_truth(truth, region), abs=1e-3)
        assert a["visits"] == a["visits_true"]
    # walking from one area into the other is one visit of the whole
    assert r["visits_true"] == area_truth(truth, [[0.02, 0.38], [0.98, 0.38], [0.98, 0.97], [0.02, 0.97]])[0]
