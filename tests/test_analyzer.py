"""ChannelAnalyzer end to end: real encoded clips through PyAV, the background model, blobs, tracks, grid."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.clips import decoded_luma, make_clip
from tests.naive import slow_rim_votes
from vca.analyzer import ChannelAnalyzer, GridTotals
from vca.bits import pack
from vca.params import HeatMapParams

W, H, FPS = 320, 180, 25
DT = 1.0 / FPS
AREA = [(0.35, 0.3), (0.7, 0.3), (0.7, 0.95), (0.35, 0.95)]   # x 112..224, y 54..171


def textured_background(rng):
    base = rng.integers(60, 140, (H // 4 + 1, W // 4 + 1)).astype(np.float32)
    big = np.kron(base, np.ones((4, 4), np.float32))[:H, :W]
    return np.clip(big + rng.normal(0, 3, (H, W)), 0, 255).astype(np.uint8)


def walker_frames(n, path, rng):
    """A textured 16x40 'person' whose feet (bottom centre) follow path(k) -> (x, y) or None."""
    bg = textured_background(rng)
    person = np.clip(rng.normal(200, 12, (40, 16)), 0, 255).astype(np.uint8)
    frames = []
    for k in range(n):
        img = bg.copy()
        feet = path(k)
        if feet is not None:
            fx, fy = feet
            x0, y0 = fx - 8, fy - 39
            img[max(y0, 0):fy + 1, max(x0, 0):x0 + 16] = person[max(-y0, 0):, max(-x0, 0):][:fy + 1 - max(y0, 0)]
        frames.append(img)
    return frames


def inside(feet):
    if feet is None:
        return False
    fx, fy = feet
    return ((fx + 0.5) / W >= 0.35 and (fx + 0.5) / W < 0.7 and (fy + 0.5) / H >= 0.3
            and (fy + 0.5) / H < 0.95)


def there_and_back(k):
    """Idle 2 s, walk right through the area, leave, wait 2 s out of view, walk back left."""
    if k < 50:
        return None
    if k < 50 + 150:                      # 2 px/frame: x 10 -> 308
        return 10 + 2 * (k - 50), 140
    if k < 250:
        return None
    if k < 250 + 150:
        return 308 - 2 * (k - 250), 120
    return None


@pytest.fixture(scope="module")
def walker_clip(tmp_path_factory):
    rng = np.random.default_rng(7)
    frames = walker_frames(420, there_and_back, rng)
    return make_clip(tmp_path_factory.mktemp("clip") / "walker.mp4", frames, fps=FPS,
                     options={"crf": "18", "preset": "ultrafast"})


def run_clip(path, regions=(AREA,), params=HeatMapParams(), **kw):
    an = None
    actives = []
    for luma, t in decoded_luma(path):
        if an is None:
            an = ChannelAnalyzer(luma.shape[0], luma.shape[1], **kw)
            an.configure(list(regions), params)
        actives.append(an.step(luma, t))
    return an, actives


def test_walker_visits_and_dwell_match_the_truth(walker_clip):
    an, actives = run_clip(walker_clip)
    totals = an.drain()
    true_dwell = sum(DT for k in range(1, 420) if inside(there_and_back(k)))
    assert totals.area_visits.tolist() == [2]
    assert totals.visits_total == 2
    assert totals.dwell_total == pytest.approx(true_dwell, rel=0.05)
    assert totals.area_dwell[0] == pytest.approx(totals.dwell_total)
    assert totals.dwell.sum() == pytest.approx(totals.dwell_total)
    assert totals.analysed_seconds == pytest.approx(419 * DT, abs=0.05)
    assert max(actives) == 1 and actives[-1] == 0
    # heat only inside the area: columns 0..22 and 45..63 (area x = 0.35..0.7 of 64 columns) stay cold
    assert totals.visits[:, :22].sum() == 0 and totals.visits[:, 45:].sum() == 0
    assert totals.visits.shape == (an.grid_rows, an.grid_columns) == (36, 64)
    # both walks crossed every column of the area once
    assert (totals.visits.sum(axis=0)[23:44] == 2).all()


def test_drain_returns_copies_and_zeroes(walker_clip):
    an, _ = run_clip(walker_clip)
    first = an.drain()
    assert isinstance(first, GridTotals) and first.visits_total == 2
    first.visits[...] = 99
    second = an.drain()
    assert second.visits.sum() == 0 and second.dwell_total == 0.0 and second.analysed_seconds == 0.0


def test_no_area_no_counts(walker_clip):
    an, _ = run_clip(walker_clip, regions=())
    totals = an.drain()
    assert totals.visits_total == 0 and totals.visits.sum() == 0 and totals.area_visits.shape == (0,)


def test_global_brightness_jump_gives_zero_visits(tmp_path):
    rng = np.random.default_rng(3)
    bg = textured_background(rng)
    frames = [bg if k < 75 else np.clip(bg.astype(int) + 40, 0, 255).astype(np.uint8) for k in range(200)]
    path = make_clip(tmp_path / "lights.mp4", frames, fps=FPS, options={"crf": "18", "preset": "ultrafast"})
    an, actives = run_clip(path, regions=([(0, 0), (1, 0), (1, 1), (0, 1)],))
    totals = an.drain()
    assert totals.scene_changes >= 1
    assert totals.visits_total == 0 and totals.dwell_total == 0.0 and max(actives) == 0


class Scripted:
    """Foreground stage that replays given masks (exact answers for the analyzer's own logic)."""

    def __init__(self, h, w):
        self.next = np.zeros((h, w), np.uint8)
        self.flags = 0
        self.background = np.zeros((h, w), np.uint8)

    def set_params(self, params):
        pass

    def apply(self, luma, t, area_mask, fg_out):
        np.copyto(fg_out, self.next & area_mask)
        return self.flags


def scripted(**kw):
    model = Scripted(90, 160)
    an = ChannelAnalyzer(90, 160, model=model, **kw)
    an.configure([[(0, 0), (1, 0), (1, 1), (0, 1)]], HeatMapParams(minimum_target_size=0))
    return an, model


def place(model, x):
    """The scripted foreground: one 16x40 target with its left edge at x."""
    model.next[:] = 0
    model.next[30:70, x:x + 16] = 1


def test_video_gap_is_capped_and_restarts_tracks():
    an, model = scripted()
    luma = np.zeros((90, 160), np.uint8)
    t = 0.0
    for k in range(50):                         # walking 1 px per frame (confirmed after 12 px)
        place(model, 20 + k)
        an.step(luma, t)
        t += DT
    t += 10.0                                   # 10 s of lost video
    for k in range(50, 100):
        place(model, 20 + k)
        an.step(luma, t)
        t += DT
    totals = an.drain()
    assert totals.analysed_seconds == pytest.approx(98 * DT + 1.0)
    assert totals.visits_total == 2             # the target after the gap is a new visit
    assert totals.dwell_total == pytest.approx(98 * DT)   # no gap credited: tracks restart
    # (each track is credited from its birth once confirmed, so confirmation loses no dwell)


def test_settling_pauses_everything():
    an, model = scripted()
    luma = np.zeros((90, 160), np.uint8)
    for k in range(100):
        place(model, 20 + min(k, 30))           # walks in, then stands (confirmed on frame 12)
        model.flags = 2 if 40 <= k < 70 else 0
        model.flags |= 1 if k == 40 else 0
        active = an.step(luma, k * DT)
        assert (active == 0) == (k < 12 or 40 <= k < 70)
        assert an.settling == (40 <= k < 70) and an.scene_change == (k == 40)
    totals = an.drain()
    assert totals.scene_changes == 1
    assert totals.visits_total == 1             # the same target, frozen through the settling
    assert totals.dwell_total == pytest.approx(69 * DT)
    assert totals.analysed_seconds == pytest.approx(69 * DT)


def test_step_allocates_nothing_per_frame():
    an, model = scripted()
    luma = np.zeros((90, 160), np.uint8)
    for k in range(20):                         # warm up (compilation, first track)
        an.step(luma, k * DT)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for k in range(20, 520):
        model.next[:] = 0
        model.next[30:70, 40 + k % 50:56 + k % 50] = 1
        an.step(luma, k * DT)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename")
                if "vca" in str(s.traceback) and s.size_diff > 0)
    assert grown < 4096


def test_bad_input_errors_name_the_fix():
    an, _ = scripted()
    with pytest.raises(ValueError, match="analysis size"):
        an.step(np.zeros((100, 160), np.uint8), 0.0)
    with pytest.raises(ValueError, match="3 to 10 points"):
        an.configure([[(0, 0), (1, 1)]], HeatMapParams())
    assert an.n_areas == 1                      # a rejected configuration changes nothing


@pytest.mark.parametrize("kind", ["person", "ghost", "noise"])
def test_outline_votes_tell_a_person_from_a_ghost_and_match_their_twin(kind):
    from vca.contour import _rim_votes
    rng = np.random.default_rng(3)
    h, w = 60, 80
    floor = (100 + rng.integers(-2, 3, (h, w))).astype(np.int32)
    luma, mean = floor.copy(), floor * 32
    fg = np.zeros((h, w), np.uint8)
    fg[10:50, 30:50] = 1
    if kind == "person":      # the frame shows the person, the model the floor
        luma[10:50, 30:50] = 60
    elif kind == "ghost":     # the frame shows the floor, the model the person who left
        mean[10:50, 30:50] = 60 * 32
    luma = luma.astype(np.uint8)
    mean = mean.astype(np.int16)
    out = np.zeros(2, np.int64)
    _rim_votes(luma, mean, pack(fg), w, 30, 10, 49, 49, out)
    assert out.tolist() == slow_rim_votes(luma, mean, fg, 30, 10, 49, 49)
    if kind == "noise":       # neither edge: no votes at all
        assert out[1] == 0
    else:
        assert out[1] >= 20 and out[0] == (out[1] if kind == "ghost" else 0)


@given(seed=st.integers(0, 2 ** 32 - 1), width=st.sampled_from([9, 63, 64, 65, 70, 130, 200]),
       box=st.tuples(st.integers(-3, 210), st.integers(-3, 40), st.integers(-3, 210), st.integers(-3, 40)))
@settings(max_examples=150, deadline=None)
def test_outline_votes_on_packed_rows_match_the_twin_anywhere(seed, width, box):
    # Crossings at word edges (63|64, 127|128), boxes hanging off the frame, masks of any texture.
    from vca.contour import _rim_votes
    rng = np.random.default_rng(seed)
    h = 36
    fg = (rng.random((h, width)) < rng.random()).astype(np.uint8)
    luma = rng.integers(0, 256, (h, width)).astype(np.uint8)
    mean = rng.integers(0, 256 * 32, (h, width)).astype(np.int16)
    x0, y0, x1, y1 = box
    out = np.zeros(2, np.int64)
    _rim_votes(luma, mean, pack(fg), width, x0, y0, x1, y1, out)
    assert out.tolist() == slow_rim_votes(luma, mean, fg, x0, y0, x1, y1)


def test_unconfirmed_ghost_tallies_ghost_votes_since_birth_and_a_person_none():
    from vca.contour import ContourEvidence
    from vca.track_table import N_INT, T_CONFIRMED, T_LIVE, T_MATCHED, T_NEW, T_X0, T_X1, T_Y0, T_Y1
    h, w = 60, 160
    luma = np.full((h, w), 100, np.uint8)
    mean = np.full((h, w), 100 * 32, np.int16)
    fg = np.zeros((h, w), np.uint8)
    fg[10:50, 30:50] = fg[10:50, 100:120] = 1
    luma[10:50, 30:50] = 60            # track 0: a person (in the frame)
    mean[10:50, 100:120] = 60 * 32     # track 1: a ghost (only in the model)
    tr = np.zeros((3, N_INT), np.int64)
    tr[:, [T_LIVE, T_MATCHED, T_NEW]] = 1
    tr[:, [T_Y0, T_Y1]] = 10, 49
    tr[0, [T_X0, T_X1]] = 30, 49
    tr[1, [T_X0, T_X1]] = tr[2, [T_X0, T_X1]] = 100, 119
    tr[2, T_CONFIRMED] = 1             # confirmed: the smoothed share, not the birth tally
    ev = ContourEvidence(3)
    for k in range(5):
        ev.update(tr, luma, mean, pack(fg), 0.04)
        tr[:, T_NEW] = 0
    assert ev.tentative.tolist() == [0.0, 1.0, 0.0]
    assert 0.0 < ev.share[2] < 0.5 and ev.share[:2].tolist() == [0.0, 0.0]
    tr[1, T_NEW] = 1                   # the slot reused by a newcomer starts clean
    ev.update(tr, luma * 0 + 100, mean * 0 + 3200, pack(fg), 0.04)
    assert ev.tentative[1] == 0.0
