"""End-to-end accuracy on the shipped sample channels and the shared real sequences.

Each sample clip is decoded through the HAL capture and analysed by a
ChannelAnalyzer at DEFAULT parameters with the clip's suggested region; its
visits must equal the true number (<= 10 targets each, so +-5 % means exact)
and its dwell must be within 5 % of the true seconds (tests/truth.py, the
slow reference). On the shared real sequences (skipped when absent) the
visits with the real background model must come close to what the same
analyzer gives when fed the ground-truth masks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import sequences
from tests.clips import captured
from tests.truth import area_truth, footprint, load_truth
from vca.analyzer import ChannelAnalyzer
from vca.params import HeatMapParams
from vca.track_table import T_CONFIRMED, T_FX, T_FY, T_LIVE, T_MATCHED

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
CLIPS = ("corridor", "shop_floor", "entrance", "lights")


def analyse(path: Path, region, watch=None):
    """Run a clip through capture + analyzer; returns (totals, watched, ids) where watched[frame]
    lists the footprints of confirmed tracks matched on that frame, for frames in `watch`, and
    ids the confirmed track ids seen."""
    an = None
    watched = {}
    ids = set()
    for frame in captured(path):
        if an is None:
            an = ChannelAnalyzer(*frame.luma.shape)
            an.configure([region], HeatMapParams())
        an.step(frame.luma, frame.pts)
        ids.update(an.tracker.confirmed_ids())
        if watch is not None and frame.index in watch:
            tr = an.tracker.tr
            on = (tr[:, T_LIVE] != 0) & (tr[:, T_CONFIRMED] != 0) & (tr[:, T_MATCHED] != 0)
            watched[frame.index] = [(int(x), int(y)) for x, y in tr[on][:, [T_FX, T_FY]]]
    return an.drain(), watched, sorted(ids)


@pytest.fixture(scope="module")
def results():
    out = {}
    for name in CLIPS:
        truth = load_truth(SAMPLES / f"{name}.truth.json")
        region = [tuple(p) for p in truth["region"]]
        watch = None
        if name == "shop_floor":
            standing = truth["targets"][0]
            first, last = standing["stops"][0]
            watch = set(range(first, last + 1))
        out[name] = (truth, region) + analyse(SAMPLES / f"{name}.mp4", region, watch)
    return out


@pytest.mark.parametrize("name", CLIPS)
def test_visits_are_exact(results, name):
    truth, region, totals, *_ = results[name]
    true_visits, _ = area_truth(truth, region)
    assert totals.visits_total == true_visits
    assert totals.area_visits.tolist() == [true_visits]


@pytest.mark.parametrize("name", CLIPS)
def test_dwell_within_five_percent(results, name):
    truth, region, totals, *_ = results[name]
    _, true_dwell = area_truth(truth, region)
    assert totals.dwell_total == pytest.approx(true_dwell, rel=0.05)
    assert totals.dwell.sum() == pytest.approx(totals.dwell_total)


def test_person_standing_65_s_keeps_counting(results):
    truth, _, _, watched, _ = results["shop_floor"]
    standing = truth["targets"][0]
    boxes = {b[0]: b for b in standing["boxes"]}
    first, last = standing["stops"][0]
    fx, fy = footprint(boxes[first])
    size = boxes[first][4] - boxes[first][2]
    held = sum(1 for f in range(first, last + 1)
               if any(abs(x - fx) + abs(y - fy) <= size // 4 for x, y in watched.get(f, [])))
    assert (last - first + 1) / truth["fps"] > 60
    assert held >= 0.9 * (last - first + 1)


def test_light_switch_adds_no_visit(results):
    truth, region, totals, *_ = results["lights"]
    assert totals.scene_changes >= 1
    # id 3 walks through the switch: one visit, as in the truth over the whole clip
    assert totals.visits_total == area_truth(truth, region)[0] == 6


# --- the demo's sub-stream: the same scenes at 320x180, 5 fps -------------------------------

@pytest.fixture(scope="module")
def substream():
    out = {}
    for name in CLIPS:
        path = SAMPLES / "substream" / f"{name}.mp4"
        assert path.exists(), f"{path} is missing: regenerate it with data/make_samples.py --substream"
        truth = load_truth(SAMPLES / f"{name}.truth.json")
        region = [tuple(p) for p in truth["region"]]
        out[name] = (truth, region) + analyse(path, region)
    return out


@pytest.mark.parametrize("name", CLIPS)
def test_substream_counts_within_ten_percent(substream, name):
    # every 5th frame, 2x2 averaged: the full clip's truth applies; Minimum Target Size is
    # a share of the frame and the tracker's gates are in seconds and box sizes, so both hold
    truth, region, totals, *_ = substream[name]
    assert totals.visits.shape == (36, 64)   # grid rows follow the frame's aspect, not its pixels
    true_visits, true_dwell = area_truth(truth, region)
    assert abs(totals.visits_total - true_visits) <= 0.1 * true_visits
    assert totals.dwell_total == pytest.approx(true_dwell, rel=0.10)


# --- the exact figures, pinned -----------------------------------------------------------
# What the analysis gives today on each clip: visits, dwell seconds and the ids of the tracks
# it confirmed. A change that moves any of them is a change of behaviour: update the pins
# only on purpose, and say so (docs/counting.md's accuracy table quotes them).

PINNED = {
    "corridor": (9, 96.56452380952157, [1, 2, 3, 4, 5, 7, 12, 13, 15]),
    "shop_floor": (8, 200.9335238095206, [1, 2, 3, 4, 6, 7, 9, 11]),
    "entrance": (10, 93.33579365078958, [1, 2, 3, 5, 6, 7, 9, 10, 11, 12]),
    "lights": (6, 53.696666666666665, [1, 2, 4, 7, 8, 9]),
}
PINNED_SUBSTREAM = {
    "corridor": (9, 93.4674603174588, [1, 2, 3, 5, 7, 9, 11, 13, 15]),
    "shop_floor": (8, 184.23888888888553, [1, 2, 3, 4, 6, 7, 9, 15]),
    "entrance": (10, 86.06580086579916, [1, 2, 3, 6, 7, 8, 10, 13, 15, 16]),
    "lights": (6, 53.43088744588744, [1, 3, 5, 7, 8, 9]),
}


@pytest.mark.parametrize("name", CLIPS)
def test_counts_and_track_ids_are_the_pinned_ones(results, substream, name):
    for runs, pinned in ((results, PINNED), (substream, PINNED_SUBSTREAM)):
        _, _, totals, _, ids = runs[name]
        visits, dwell, pinned_ids = pinned[name]
        assert (totals.visits_total, ids) == (visits, pinned_ids)
        assert totals.dwell_total == pytest.approx(dwell, rel=1e-9)


# --- the shared real recordings ----------------------------------------------------------

WHOLE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


class TruthMasks:
    """Foreground stage replaying a sequence's ground-truth masks (what a perfect model gives)."""

    def __init__(self, masks):
        self.masks = masks
        self.i = 0
        self.background = np.zeros(masks.shape[1:], np.uint8)

    def set_params(self, params):
        pass

    def apply(self, luma, t, area_mask, fg_out):
        np.multiply(self.masks[min(self.i, len(self.masks) - 1)] == 255, area_mask, out=fg_out,
                    casting="unsafe")
        self.i += 1
        return 0


# (visits with the real model, visits fed the ground-truth masks), pinned as above
# office_people 8 -> 7 with the real model (issue 13: no edge handover for a track still entering)
PINNED_SEQUENCES = {"hall_monitor": (2, 2), "ibm_lobby": (3, 2), "office_people": (7, 6)}


@pytest.mark.parametrize("name", ["hall_monitor", "ibm_lobby", "office_people"])
def test_real_sequences_visits_close_to_truth_masks(name):
    if reason := sequences.missing(name):
        pytest.skip(reason)
    frames, masks, fps = sequences.load(name)
    counts = []
    for model in (None, TruthMasks(masks)):
        an = ChannelAnalyzer(*frames.shape[1:], model=model)
        an.configure([WHOLE], HeatMapParams())
        for k in range(len(masks)):
            an.step(frames[k], k / fps)
        counts.append(an.drain().visits_total)
    real, perfect = counts
    assert perfect >= 1
    assert abs(real - perfect) <= max(1, round(0.25 * perfect))
    assert (real, perfect) == PINNED_SEQUENCES[name]
