"""Each heat-map parameter moves the result the way its name promises, on a sample scene.

The shipped shop_floor sub-stream (320x180, 5 fps: a 65 s stay among
walkers) is analysed at 0, 25, 50, 75 and 100 of one parameter, the others
at their defaults:

- Detection Sensitivity up: more foreground (smaller luma changes count);
- Background Update Rate up: less foreground (what stands still is
  absorbed sooner);
- Minimum Target Size up: fewer target-frames (small blobs stop counting),
  and fewer visits at 100 than at 0;
- Scene Change Level up: scene changes declared more readily. The sample
  scenes have either no sudden change or one over the whole area (declared
  at every level), so this one runs on the lights sub-stream with a light
  switched on over half of the frame only (re-encoded): 50 % of the area
  changing at once is over the 45 % the default needs but under the 80 %
  level 0 needs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.clips import captured, decoded_luma, make_clip
from tests.truth import load_truth
from vca.analyzer import ChannelAnalyzer
from vca.params import HeatMapParams

pytestmark = pytest.mark.slow   # decodes the counting scenes; the fast tier (-m 'not slow') leaves it out

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
VALUES = (0, 25, 50, 75, 100)


def run(path: Path, region, **param) -> dict:
    an, foreground, targets = None, 0, 0
    for frame in captured(path):
        if an is None:
            an = ChannelAnalyzer(*frame.luma.shape)
            an.configure([region], HeatMapParams(**param))
        targets += an.step(frame.luma, frame.pts)
        foreground += int(np.count_nonzero(an.foreground))
    g = an.drain()
    return {"foreground": foreground, "targets": targets, "visits": g.visits_total,
            "scene_changes": g.scene_changes}


def sweep(path: Path, region, name: str, key: str) -> list[int]:
    return [run(path, region, **{name: v})[key] for v in VALUES]


@pytest.fixture(scope="module")
def shop():
    truth = load_truth(SAMPLES / "shop_floor.truth.json")
    return SAMPLES / "substream" / "shop_floor.mp4", [tuple(p) for p in truth["region"]]


def rising(xs):
    return all(a <= b for a, b in zip(xs, xs[1:])) and xs[0] < xs[-1]


def test_detection_sensitivity_finds_more_foreground(shop):
    fg = sweep(*shop, "detection_sensitivity", "foreground")
    assert rising(fg) and all(a < b for a, b in zip(fg, fg[1:])), fg


def test_background_update_rate_absorbs_sooner(shop):
    fg = sweep(*shop, "background_update_rate", "foreground")
    assert rising(fg[::-1]), fg


def test_minimum_target_size_counts_fewer_targets(shop):
    runs = [run(*shop, minimum_target_size=v) for v in VALUES]
    targets = [r["targets"] for r in runs]
    assert rising(targets[::-1]), targets
    assert runs[-1]["visits"] < runs[0]["visits"]


def test_scene_change_level_declares_more_readily(tmp_path):
    truth = load_truth(SAMPLES / "lights.truth.json")
    region = [tuple(p) for p in truth["region"]]
    frames = []
    for k, (luma, _) in enumerate(decoded_luma(SAMPLES / "substream" / "lights.mp4")):
        if k >= 120:
            break
        img = luma.astype(np.int16)
        if k >= 60:
            img[:, : img.shape[1] // 2] += 40   # a light on over the left half from frame 60
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    clip = make_clip(tmp_path / "half_light.mp4", frames, fps=5)
    changes = sweep(clip, region, "scene_change_level", "scene_changes")
    assert rising(changes), changes
    assert changes[0] == 0 and changes[VALUES.index(50)] >= 1
