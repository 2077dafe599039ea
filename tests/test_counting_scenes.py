"""The counting scenes (data/samples/counting): one person stays one visit, at default parameters.

Each shipped scene (and its 5 fps sub-stream) is analysed the way
`nvr bench counts` does it (firmware.bench.counts.evaluate: HAL capture,
ChannelAnalyzer, the truth's area) and its visits and dwell are checked
against tests/truth.py, the slow reference that shares no code with the
firmware: visits exact where the people are separable, within one where
they walk in as one group; dwell within 5 %; never more visits than
people (plus true returns). The shipped truth must be what the catalogue
(data/scenes.py) generates now.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from data import render, scenes
from firmware.bench.counts import evaluate, open_scenes
from tests.truth import area_truth, load_truth

pytestmark = pytest.mark.slow   # decodes the counting scenes; the fast tier (-m 'not slow') leaves it out

ROOT = Path(__file__).resolve().parents[1]
COUNTING = ROOT / "data" / "samples" / "counting"
# Scenes whose people walk in merged (a group entering as one blob): visits within one.
MERGED = {"crossing", "crossing-5fps"}
# Known shortfall, kept visible: a group that walks in as one blob is one target until it
# splits, so the time the others spent inside it is not counted (docs/counting.md).
DWELL_SHORT = {"crossing", "crossing-5fps"}


@pytest.fixture(scope="module")
def results():
    return {s.name: (s, evaluate(s)) for s in open_scenes(COUNTING)}


def test_every_catalogued_scene_is_shipped_with_its_5fps_variant(results):
    expected = set(scenes.COUNTING_SCENES) | {f"{n}-5fps" for n in scenes.COUNTING_5FPS}
    assert set(results) == expected


@pytest.mark.parametrize("name", sorted(scenes.COUNTING_SCENES))
def test_shipped_truth_is_what_the_catalogue_generates(name):
    shipped = load_truth(COUNTING / f"{name}.truth.json")
    assert shipped == json.loads(render.truth_json(render.build_truth(scenes.COUNTING_SCENES[name])))


NAMES = sorted(scenes.COUNTING_SCENES) + sorted(f"{n}-5fps" for n in scenes.COUNTING_5FPS)


@pytest.mark.parametrize("name", NAMES)
def test_visits_one_per_person(results, name):
    scene, r = results[name]
    truth = load_truth(scene.truth_path)
    visits, _ = area_truth(truth, truth["region"])
    people = len(truth["targets"])
    assert (r.total.visits_true, r.people) == (visits, people)     # the firmware's truth agrees
    if name in MERGED:
        assert abs(r.total.visits - visits) <= 1
    else:
        assert r.total.visits == visits
    assert r.total.visits <= max(people, visits)


@pytest.mark.parametrize("name", NAMES)
def test_dwell_within_five_percent(results, name, request):
    if name in DWELL_SHORT:
        request.applymarker(pytest.mark.xfail(strict=True, reason="a group walking in as one blob "
                                              "counts as one person until it splits"))
    scene, r = results[name]
    truth = load_truth(scene.truth_path)
    _, dwell = area_truth(truth, truth["region"])
    assert r.total.dwell_true == pytest.approx(dwell)
    assert r.total.dwell == pytest.approx(dwell, rel=0.05)


def test_long_stays_are_long(results):
    # what the scenes promise: stays of 1 to 2 minutes, still ones among them, and returns
    stops = {n: [(b - a + 1) / 25 for t in load_truth(COUNTING / f"{n}.truth.json")["targets"]
                 for a, b in t["stops"]] for n in ("browsing", "standing")}
    assert max(stops["browsing"]) >= 119 and 59 <= sorted(stops["browsing"])[-2] <= 61
    assert sorted(round(s) for s in stops["standing"]) == [18, 30, 45, 67]
    _, r = results["returning"]
    assert (r.people, r.total.visits_true, r.total.visits) == (2, 3, 3)
