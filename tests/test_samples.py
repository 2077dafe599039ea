"""The shipped sample channels: they decode as stated, their truth matches the
pixels and the generator, and the truth helper counts visits/dwell as documented."""
from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from data import make_samples, render, scenes
from tests.truth import area_truth, footprint, inside, load_truth

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
NAMES = list(scenes.SCENES)


class Decoded:
    """One pass over a clip: stream facts, per-frame luma means, a static strip, chosen frames."""

    def __init__(self, path: Path, keep: set[int] = frozenset()):
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            self.codec, self.pix_fmt = s.codec_context.name, s.codec_context.pix_fmt
            self.width, self.height, self.fps = s.width, s.height, float(s.average_rate)
            means, strip, self.frames = [], [], {}
            for i, f in enumerate(c.decode(s)):
                y = f.to_ndarray()[: f.height]  # yuv420p ndarray is Y on top of U/V
                means.append(y.mean())
                strip.append(y[:16].copy())  # top of the back wall: no target reaches it
                if i in keep:
                    self.frames[i] = y.copy()
        self.means = np.array(means)
        self.strip = np.stack(strip).astype(np.float32)


_decoded: dict[str, Decoded] = {}


def decoded(name: str) -> Decoded:
    if name not in _decoded:
        truth = load_truth(SAMPLES / f"{name}.truth.json")
        _decoded[name] = Decoded(SAMPLES / f"{name}.mp4", _frames_of_interest(truth))
    return _decoded[name]


def _frames_of_interest(truth: dict) -> set[int]:
    keep = set()
    for t in truth["targets"]:
        for s0, s1 in t["stops"]:
            keep.add((s0 + s1) // 2)
    keep.add(truth["frames"] - 1)
    return keep


@pytest.fixture(params=NAMES)
def name(request):
    return request.param


@pytest.mark.slow
def test_clip_decodes_as_its_truth_says(name):
    truth = load_truth(SAMPLES / f"{name}.truth.json")
    d = decoded(name)
    assert (d.codec, d.pix_fmt) == ("h264", "yuv420p")
    assert (d.width, d.height, d.fps) == (truth["width"], truth["height"], truth["fps"]) == (640, 360, 25)
    assert len(d.means) == truth["frames"]


def test_clips_fit_the_repository_size_budget():
    sizes = {n: (SAMPLES / f"{n}.mp4").stat().st_size for n in NAMES}
    assert max(sizes.values()) <= 1_500_000, sizes
    assert sum(sizes.values()) <= 6_000_000, sizes


def test_shipped_truth_is_what_the_generator_scripts(name):
    # A stale truth file (scene edited, JSON not regenerated) fails here.
    shipped = load_truth(SAMPLES / f"{name}.truth.json")
    assert json.loads(render.truth_json(render.build_truth(scenes.SCENES[name]))) == shipped


def test_truth_is_internally_consistent(name):
    truth = load_truth(SAMPLES / f"{name}.truth.json")
    w, h, n = truth["width"], truth["height"], truth["frames"]
    assert 3 <= len(truth["region"]) <= 10
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in truth["region"])
    assert len({t["id"] for t in truth["targets"]}) == len(truth["targets"]) >= 4
    for t in truth["targets"]:
        frames = [b[0] for b in t["boxes"]]
        # Visible in one unbroken run: walks in at an edge, out at an edge.
        assert frames == list(range(frames[0], frames[0] + len(frames)))
        assert 0 <= frames[0] and frames[-1] < n
        for f, x0, y0, x1, y1 in t["boxes"]:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (t["id"], f)
            if 0 < x0 and x1 < w and y1 < h:  # fully in view: person-sized
                assert 28 <= x1 - x0 <= 40 and 70 <= y1 - y0 <= 110, (t["id"], f)
        by_frame = {b[0]: b[1:] for b in t["boxes"]}
        for s0, s1 in t["stops"]:
            assert len({tuple(by_frame[f]) for f in range(s0, s1 + 1)}) == 1, (t["id"], s0)


def test_walkers_move_at_walking_speed(name):
    truth = load_truth(SAMPLES / f"{name}.truth.json")
    for t in truth["targets"]:
        standing = {f for s0, s1 in t["stops"] for f in range(s0, s1 + 1)}
        steps = [
            np.hypot(*np.subtract(footprint(b), footprint(a)))
            for a, b in zip(t["boxes"], t["boxes"][1:])
            if a[0] not in standing and b[0] not in standing and a[3] < 640 and a[1] > 0 and b[3] < 640 and b[1] > 0
            and a[4] < 360 and b[4] < 360
        ]
        speed = np.mean(steps) * truth["fps"]
        assert 55 <= speed <= 80, (t["id"], speed)  # 1.1-1.6 m/s at ~50 px/m


def test_one_clip_has_a_person_standing_at_least_60_s():
    truth = load_truth(SAMPLES / "shop_floor.truth.json")
    longest = max((s1 - s0 + 1) / truth["fps"] for t in truth["targets"] for s0, s1 in t["stops"])
    assert longest >= 60


def test_one_clip_has_people_walking_side_by_side_and_crossing():
    truth = load_truth(SAMPLES / "entrance.truth.json")
    boxes = {t["id"]: {b[0]: b[1:] for b in t["boxes"]} for t in truth["targets"]}

    def overlap(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    overlapping_pairs = {
        (i, j)
        for i in boxes for j in boxes if i < j
        for f in boxes[i].keys() & boxes[j].keys()
        if overlap(boxes[i][f], boxes[j][f])
    }
    assert len(overlapping_pairs) >= 3, overlapping_pairs


def test_standing_person_is_drawn_where_the_truth_says():
    # The dark shopper (id 1) stands 65 s; compare a frame mid-stop with the
    # last frame, when the shop floor is empty there.
    truth = load_truth(SAMPLES / "shop_floor.truth.json")
    d = decoded("shop_floor")
    t = next(t for t in truth["targets"] if t["id"] == 1)
    s0, s1 = t["stops"][0]
    mid = (s0 + s1) // 2
    x0, y0, x1, y1 = {b[0]: b[1:] for b in t["boxes"]}[mid]
    # Look in a margin around the box; nobody else may be in it in either frame.
    m = 15
    win = (max(x0 - m, 0), max(y0 - m, 0), x1 + m, y1 + m)
    for other in truth["targets"]:
        for f, a0, b0, a1, b1 in other["boxes"]:
            if f in (mid, truth["frames"] - 1) and other["id"] != 1:
                assert a1 <= win[0] or win[2] <= a0 or b1 <= win[1] or win[3] <= b0
    crop = (slice(win[1], win[3]), slice(win[0], win[2]))
    diff = np.abs(d.frames[mid][crop].astype(int) - d.frames[truth["frames"] - 1][crop].astype(int))
    changed = diff > 25
    # Rows/columns with a few changed pixels, so a stray noise grain is not an edge.
    xs = np.nonzero(changed.sum(axis=0) >= 3)[0] + win[0]
    ys = np.nonzero(changed.sum(axis=1) >= 3)[0] + win[1]
    assert abs(xs.min() - x0) <= 2 and abs(xs.max() + 1 - x1) <= 2, (xs.min(), xs.max(), x0, x1)
    assert abs(ys.min() - y0) <= 2 and abs(ys.max() + 1 - y1) <= 2, (ys.min(), ys.max(), y0, y1)


@pytest.mark.parametrize("bw,bh", [(28, 70), (31, 84), (34, 97), (40, 110)])
@pytest.mark.parametrize("swing", [-1.0, -0.3, 0.0, 0.6, 1.0])
def test_person_sprite_fills_exactly_its_box(bw, bh, swing):
    look = scenes.Look(head=80, shirt=60, trousers=50)
    tex = np.zeros((64, 24), np.float32)
    *_, mask = render.person_sprite(bw, bh, swing, look, tex)
    assert mask.shape == (bh, bw)
    assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
    assert 0.4 < mask.mean() < 0.8  # a figure, not a filled rectangle


def test_light_switch_step_is_visible_in_decoded_luma():
    truth = load_truth(SAMPLES / "lights.truth.json")
    (event,) = truth["events"]
    assert event["type"] == "brightness_step"
    f, delta = event["frame"], event["delta"]
    means = decoded("lights").means
    jumps = np.diff(means)
    assert jumps[f - 1] == pytest.approx(delta, abs=3)
    # The only step: everywhere else the mean drifts by less than 2 levels a frame.
    assert np.abs(np.delete(jumps, f - 1)).max() < 2
    # People walk both before and after the light goes on.
    firsts = [t["boxes"][0][0] for t in truth["targets"]]
    lasts = [t["boxes"][-1][0] for t in truth["targets"]]
    assert sum(last < f for last in lasts) >= 2 and sum(first > f for first in firsts) >= 2


def test_decoded_clips_keep_some_sensor_noise(name):
    # Frame-to-frame differences on static wall: a perfectly clean clip would
    # make background subtraction trivially easy.
    strip = decoded(name).strip
    noise = (strip[1:] - strip[:-1]).reshape(len(strip) - 1, -1).std(axis=1).mean() / np.sqrt(2)
    assert noise > 0.25, noise


@pytest.mark.slow
def test_regenerating_gives_the_same_truth_and_bytes(tmp_path):
    scene = scenes.SCENES["lights"]
    a_video, a_truth = make_samples.generate(scene, tmp_path / "a", frames=60)
    b_video, b_truth = make_samples.generate(scene, tmp_path / "b", frames=60)
    assert a_truth.read_text() == b_truth.read_text()
    assert a_video.read_bytes() == b_video.read_bytes()
    short = load_truth(a_truth)
    assert short["frames"] == 60
    with av.open(str(a_video)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 60


def test_a_route_ending_inside_the_frame_is_refused():
    scene = scenes.SCENES["lights"]
    walker = scenes.Walker(99, 0.0, 60, scene.walkers[0].look, ((-30, 200, 0), (300, 200, 0)))
    bad = scenes.Scene(**{**scene.__dict__, "walkers": (walker,)})
    with pytest.raises(ValueError, match="off-screen"):
        render.build_truth(bad, frames=10)


# -- the truth helper against hand-worked cases --------------------------------

def _truth(*targets, fps=25, size=(100, 100), frames=1000):
    return {"fps": fps, "width": size[0], "height": size[1], "frames": frames,
            "targets": [{"id": i, "boxes": boxes} for i, boxes in enumerate(targets)]}


def _stay(frames, col, row):
    """Boxes whose footprint pixel is (col, row) on each of `frames`."""
    return [[f, col - 5, row - 20, col + 5, row + 1] for f in frames]


LEFT_HALF = [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]


def test_helper_counts_dwell_in_seconds_of_footprints_inside():
    truth = _truth(_stay(range(0, 50), 20, 50), _stay(range(0, 50), 80, 50))
    assert area_truth(truth, LEFT_HALF) == (1, 2.0)


def test_helper_counts_a_reentry_only_after_more_than_one_second():
    # Inside on frames 0-9, outside, back inside: away for (back - 9) frames.
    def away(back):
        return _stay(range(0, 10), 20, 50) + _stay(range(10, back), 80, 50) + _stay(range(back, back + 5), 20, 50)

    assert area_truth(_truth(away(35)), LEFT_HALF) == (2, 15 / 25)  # 26 frames = 1.04 s: a new visit
    assert area_truth(_truth(away(34)), LEFT_HALF) == (1, 15 / 25)  # 25 frames = 1.00 s: the same visit
    # Leaving the picture counts as outside too.
    gone = _stay(range(0, 10), 20, 50) + _stay(range(60, 65), 20, 50)
    assert area_truth(_truth(gone), LEFT_HALF)[0] == 2


def test_helper_uses_pixel_centres_and_the_even_odd_rule():
    # Column 49's centre (49.5) is left of x=50; column 50's (50.5) is not.
    assert area_truth(_truth(_stay([0], 49, 50)), LEFT_HALF)[0] == 1
    assert area_truth(_truth(_stay([0], 50, 50)), LEFT_HALF)[0] == 0
    # A U shape: the notch between its arms is outside.
    u_shape = [(0.1, 0.1), (0.3, 0.1), (0.3, 0.6), (0.7, 0.6), (0.7, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)]
    assert area_truth(_truth(_stay([0], 50, 30)), u_shape)[0] == 0
    assert area_truth(_truth(_stay([0], 50, 70)), u_shape)[0] == 1
    assert area_truth(_truth(_stay([0], 20, 30)), u_shape)[0] == 1


def test_helper_footprint_is_bottom_centre_of_the_box():
    assert footprint([10, 20, 41, 100]) == (25, 99)
    assert footprint([7, 10, 20, 41, 100]) == (25, 99)
    assert inside(0.5, 0.5, [(0, 0), (1, 0), (1, 1), (0, 1)])
    assert not inside(1.5, 0.5, [(0, 0), (1, 0), (1, 1), (0, 1)])


def test_helper_frame_window():
    truth = _truth(_stay(range(0, 100), 20, 50))
    assert area_truth(truth, LEFT_HALF, start=50) == (1, 2.0)
    assert area_truth(truth, LEFT_HALF, start=0, stop=25) == (1, 1.0)
