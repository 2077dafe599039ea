"""What a user of the background model notices, on small synthetic scenes; and its kernels
(bounds, pass, illumination sample, ghost) against their slow twins (tests/naive.py)."""
import numpy as np
import pytest

from tests.naive import slow_bounds, slow_ghost, slow_pass, slow_sample
from vca import background as B
from vca.params import HeatMapParams

H, W = 48, 80


def scene(rng, base=100):
    """A mildly textured background with sensor noise, as uint8 frames."""
    tex = base + (np.arange(W)[None, :] % 7) + (np.arange(H)[:, None] % 5)
    return lambda: np.clip(tex + rng.normal(0, 1.5, (H, W)), 0, 255).astype(np.uint8)


def run(model, frames, fps, t0=0.0, area=None):
    """Feed frames (callables of i) at fps; yield (t, flags, fg copy)."""
    area = np.ones((H, W), np.uint8) if area is None else area
    fg = np.zeros((H, W), np.uint8)
    for i, make in enumerate(frames):
        t = t0 + i / fps
        flags = model.apply(make(i), t, area, fg)
        yield t, flags, fg.copy()


def with_box(bg, delta, box=(slice(15, 35), slice(30, 42))):
    def make(i):
        f = bg().astype(np.int16)
        f[box] += delta
        return np.clip(f, 0, 255).astype(np.uint8)
    return make


def test_standing_person_stays_foreground_for_60_s_at_25_fps():
    rng = np.random.default_rng(1)
    bg = scene(rng)
    m = B.BackgroundModel(H, W)
    fps = 25
    warm = [lambda i: bg()] * (5 * fps)
    stand = [lambda i, f=with_box(bg, 40): f(i)] * (60 * fps)
    res = list(run(m, warm + stand, fps))[len(warm):]
    box = (slice(15, 35), slice(30, 42))
    seen = [fg[box].mean() >= 0.5 for _, _, fg in res]
    assert np.mean(seen) >= 0.9
    assert all(fg.sum() - fg[box].sum() == 0 for _, _, fg in res)   # nothing else lights up


def test_brightness_step_of_40_is_a_scene_change_with_no_foreground():
    rng = np.random.default_rng(2)
    bg = scene(rng)
    m = B.BackgroundModel(H, W)
    fps = 25
    frames = [lambda i: bg()] * (3 * fps) + [with_box(bg, 40, (slice(None), slice(None)))] * (5 * fps)
    res = list(run(m, frames, fps))
    after = res[3 * fps:]
    assert after[0][1] == B.SCENE_CHANGE | B.SETTLING
    assert sum(1 for _, f, _ in res if f & B.SCENE_CHANGE) == 1
    settling = [r for r in after if r[1] & B.SETTLING]
    assert len(settling) >= B.SETTLE_SECONDS * fps - 1
    assert all(fg.sum() == 0 for _, _, fg in settling)
    assert all(fg.sum() == 0 for _, _, fg in after)       # and none once settled


def test_slow_illumination_drift_is_not_foreground():
    rng = np.random.default_rng(3)
    bg = scene(rng, base=80)
    m = B.BackgroundModel(H, W)
    fps = 25
    # +60 grey levels over 20 s: what a cloud or auto exposure does
    frames = [lambda i: np.clip(bg().astype(np.int16) + i * 60 // (20 * fps), 0, 255).astype(np.uint8)
              ] * (20 * fps)
    res = list(run(m, frames, fps))
    assert all(f == 0 for _, f, _ in res)
    assert sum(fg.sum() for _, _, fg in res) == 0


@pytest.mark.parametrize("fps", [25, 5])
def test_moved_object_is_absorbed_after_the_documented_seconds_at_any_frame_rate(fps):
    rng = np.random.default_rng(4)
    bg = scene(rng)
    p = HeatMapParams(background_update_rate=100)
    absorb = B.update_seconds(100)
    m = B.BackgroundModel(H, W)
    m.set_params(p)
    frames = [lambda i: bg()] * (3 * fps) + [with_box(bg, 50)] * int((absorb + 5) * fps)
    res = list(run(m, frames, fps))
    box = (slice(15, 35), slice(30, 42))
    appeared = 3.0
    gone = next(t for t, _, fg in res if t > appeared + 1 and fg[box].mean() < 0.5)
    assert abs((gone - appeared) - absorb) <= 0.5
    assert res[-1][2].sum() == 0


def test_higher_sensitivity_finds_more_of_a_low_contrast_target():
    counts = []
    for v in (0, 50, 100):
        rng = np.random.default_rng(5)
        bg = scene(rng)
        m = B.BackgroundModel(H, W)
        m.set_params(HeatMapParams(detection_sensitivity=v))
        fps = 25
        frames = [lambda i: bg()] * (3 * fps) + [with_box(bg, 14)] * fps
        counts.append(sum(fg.sum() for _, _, fg in list(run(m, frames, fps))[3 * fps:]))
    assert counts[0] <= counts[1] <= counts[2]
    assert counts[0] == 0 and counts[2] > 0


def test_pixels_outside_the_area_are_never_foreground():
    rng = np.random.default_rng(6)
    bg = scene(rng)
    area = np.zeros((H, W), np.uint8)
    area[:, :36] = 1                       # the box straddles the area's edge
    m = B.BackgroundModel(H, W)
    fps = 25
    frames = [lambda i: bg()] * (2 * fps) + [with_box(bg, 60)] * fps
    res = list(run(m, frames, fps, area=area))
    assert all(fg[:, 36:].sum() == 0 for _, _, fg in res)
    assert res[-1][2][15:35, 30:36].all()


def test_limited_rows_give_the_same_foreground_and_keep_learning():
    rng = np.random.default_rng(9)
    bg = scene(rng)
    area = np.zeros((H, W), np.uint8)
    area[:24] = 1
    full = np.ones((H, W), np.uint8)
    a, b = B.BackgroundModel(H, W), B.BackgroundModel(H, W)
    b.limit_rows(0, 24)
    fps = 25
    brighter = lambda: np.clip(bg().astype(int) + np.where(np.arange(H)[:, None] >= 30, 30, 0),
                               0, 255).astype(np.uint8)
    frames = ([lambda i: bg()] * (2 * fps) + [with_box(bg, 40)] * fps
              + [lambda i: brighter()] * (3 * fps))   # rows below the area change for good
    seq = [f(i) for i, f in enumerate(frames)]
    ra = list(run(a, [lambda i: seq[i]] * len(seq), fps, area=area))
    rb = list(run(b, [lambda i: seq[i]] * len(seq), fps, area=area))
    assert all(np.array_equal(x[2], y[2]) for x, y in zip(ra, rb))
    assert ra[2 * fps + 5][2].sum() > 0
    b.limit_rows(0, H)                              # the area grows: those rows learned meanwhile
    fg = np.zeros((H, W), np.uint8)
    for i in range(5):
        b.apply(brighter(), len(seq) / fps + i / fps, full, fg)
        assert fg.sum() == 0
    with pytest.raises(ValueError, match="one past the last row"):
        b.limit_rows(10, H + 1)


def test_strided_luma_gives_the_same_foreground_as_contiguous():
    rng = np.random.default_rng(7)
    bg = scene(rng)
    fps = 25
    frames = [lambda i: bg()] * (2 * fps) + [with_box(bg, 40)] * 10
    seq = [f(i) for i, f in enumerate(frames)]
    padded = np.zeros((len(seq), H, W + 16), np.uint8)
    padded[:, :, :W] = seq
    a, b = B.BackgroundModel(H, W), B.BackgroundModel(H, W)
    ra = list(run(a, [lambda i: seq[i]] * len(seq), fps))
    rb = list(run(b, [lambda i: padded[i, :, :W]] * len(seq), fps))
    assert all(np.array_equal(x[2], y[2]) for x, y in zip(ra, rb))
    assert ra[-1][2].sum() > 0


def test_mapping_is_monotonic_and_matches_the_documented_table():
    assert [round(B.sensitivity_threshold(v), 1) for v in (0, 50, 100)] == [40.0, 16.0, 6.4]
    assert [round(B.update_seconds(v)) for v in (0, 50, 100)] == [1200, 120, 12]
    assert [round(B.scene_change_share(v), 2) for v in (0, 50, 100)] == [0.8, 0.45, 0.2]
    vs = range(101)
    assert all(np.diff([B.sensitivity_threshold(v) for v in vs]) < 0)
    assert all(np.diff([B.update_seconds(v) for v in vs]) < 0)
    assert all(np.diff([B.scene_change_share(v) for v in vs]) < 0)
    assert B.update_seconds(50) >= 60 / 0.9          # standing person requirement
    with pytest.raises(ValueError, match="from 0 to 100"):
        B.update_seconds(101)


def test_wrong_frame_size_is_refused_with_the_fix():
    m = B.BackgroundModel(H, W)
    with pytest.raises(ValueError, match="size the model was built for"):
        m.apply(np.zeros((H, W + 1), np.uint8), 0.0, np.ones((H, W), np.uint8),
                np.zeros((H, W), np.uint8))


def test_background_image_is_the_empty_scene():
    rng = np.random.default_rng(8)
    bg = scene(rng)
    m = B.BackgroundModel(H, W)
    list(run(m, [lambda i: bg()] * 50, 25))
    ref = np.median(np.stack([bg() for _ in range(15)]), axis=0)
    assert np.abs(m.background.astype(int) - ref).max() <= 3


# -- the kernels against their slow twins (tests/naive.py) ------------------------------

def test_bounds_classify_every_luma_like_the_threshold_rule():
    rng = np.random.default_rng(10)
    h, w = 6, 50
    mean = rng.integers(-3 * B.SCALE, 253 * B.SCALE, (h, w)).astype(np.int16)  # + offset 3: 0..255
    noise = rng.integers(16, 640, (h, w)).astype(np.int16)
    lo, hi = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    row_offset = np.zeros(h, np.int32)
    k8, tmin = np.int16(28), np.int16(512)
    m = B.BackgroundModel(h, w)
    state = m.state._replace(mean=mean, noise=noise, lo=lo, hi=hi, row_offset=row_offset)
    B._bounds_rows(state, 3, k8, tmin)
    want_lo, want_hi = slow_bounds(mean, noise, 3 * B.SCALE, k8, tmin)
    assert np.array_equal(lo, want_lo) and np.array_equal(hi, want_hi)
    assert (row_offset == 3).all()
    # and the bounds mean exactly "|SCALE * x - mean| > thr" for every luma x
    x = np.arange(256)[:, None, None]
    thr = np.maximum((noise.astype(int) * 28) >> 3, 512)
    fg_rule = np.abs(B.SCALE * x - (mean.astype(int) + 3 * B.SCALE)) > thr
    fg_bounds = ((x < lo) & (lo != 0)) | ((x > hi) & (hi != 255))
    assert np.array_equal(fg_rule, fg_bounds)


STATE = ("mean", "noise", "lo", "hi", "stamp", "row_offset", "row_time", "raw", "old", "cont", "rows")


def kernel_state(m):
    return {k: getattr(m.state, k) for k in STATE}


@pytest.mark.parametrize("step,phase", [(1, 0), (3, 1), (16, 5)])
def test_pass_matches_its_numpy_twin(step, phase):
    rng = np.random.default_rng(11 + step)
    bg = scene(rng)
    m = B.BackgroundModel(H, W)
    area = np.ones((H, W), np.uint8)
    area[:, 70:] = 0
    list(run(m, [lambda i: bg()] * 20 + [with_box(bg, 45)] * 40, 25, area=area))
    area[40:] = 0                                   # rows without area are not classified
    m.offset = 2                                    # an illumination shift since some rows learned
    m.stamp[...] = rng.integers(0, 200, (H, W))     # some foreground is old, some absorbable
    m.stamp[15:35:3, 30:42] = 300 - 64             # exactly min_age old...
    m.stamp[16:35:3, 30:42] = 300 - 250            # ...and exactly t_abs old
    luma = with_box(bg, 45)(0)
    luma[5:9, 5:60] = 250                           # a fresh target across a learning row
    before = {k: np.array(v, copy=True) for k, v in kernel_state(m).items()}
    args = dict(offset=m.offset, clock=m._clock + 0.3, now=np.uint16(300), phase=phase, step=step,
                tau=4.0, t_abs=np.uint16(250), min_age=np.uint16(64), k8=m._k, tmin=m._tmin)
    want = slow_pass(luma, area, before, **args)
    B._pass(luma, area, m.state, m._clean_prev, m._rstep, m._cstep, 0, 40, args["offset"], args["clock"],
            args["now"], phase, step, args["tau"], args["t_abs"], args["min_age"], m._k, m._tmin)
    got = kernel_state(m)
    for k in STATE:
        assert np.array_equal(got[k], want[k]), k
    assert got["raw"].any() and (got["old"] != before["old"]).any()


def test_illumination_sample_matches_its_numpy_twin():
    rng = np.random.default_rng(12)
    bg = scene(rng)
    m = B.BackgroundModel(H, W)
    area = np.ones((H, W), np.uint8)
    area[:10] = 0
    list(run(m, [lambda i: bg()] * 30, 25, area=area))
    luma = np.clip(bg().astype(int) + 5, 0, 255).astype(np.uint8)
    luma[20:30, 10:20] = 0                           # some changed pixels
    want = slow_sample(luma, area, m.lo, m.hi, m.row_offset, m.offset, m._rstep, m._cstep)   # no target here
    got = B._sample(luma, area, m.state, m.offset, m._clean_prev, m._rstep, m._cstep)
    assert got == want
    assert got[2] == 5 and got[1] > 0


@pytest.mark.parametrize("protect", [False, True])
def test_ghost_matches_its_numpy_twin(protect):
    rng = np.random.default_rng(13)
    bg = scene(rng)
    m = B.BackgroundModel(H, W)
    # a box is there from the start, is learned as background, then leaves: a ghost
    list(run(m, [with_box(bg, 50)] * 30 + [lambda i: bg()] * 90, 25))
    luma = bg()
    s = m.state
    assert s.rows.any() and (s.raw & s.old).any()
    none = np.zeros_like(s.raw)
    unprotected = slow_ghost(luma, s.raw, s.old, none, m.mean, m.noise, m.lo, m.hi, m.row_offset,
                             m.offset, 0.33, m._k, m._tmin)
    bits = none.copy()
    if protect:  # a target vouched for over the first row that would seep
        first = np.flatnonzero((unprotected[0] != m.mean).any(axis=1))[0]
        bits[first] = ~np.uint64(0)
    want = slow_ghost(luma, s.raw, s.old, bits, m.mean, m.noise, m.lo, m.hi, m.row_offset,
                      m.offset, 0.33, m._k, m._tmin)
    pulled = B._ghost(luma, s._replace(protect=bits), m.offset, 0.33, m._k, m._tmin)
    assert pulled == want[3]
    assert protect or pulled > 0
    assert (pulled < unprotected[3]) == protect
    assert np.array_equal(m.mean, want[0])
    assert np.array_equal(m.lo, want[1]) and np.array_equal(m.hi, want[2])
