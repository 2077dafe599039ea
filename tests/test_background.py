"""What a user of the background model notices, on small synthetic scenes; and
slow NumPy twins of its kernels (bounds, pass, illumination sample, ghost)."""
import numpy as np
import pytest

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


# -- slow twins of the kernels -------------------------------------------------

def twin_bounds(mean, noise, shift, k8, tmin):
    """NumPy twin of `_bound_pair`: the widest integer interval of luma whose
    SCALE * luma stays within thr = max(k8 / 8 * noise, tmin) of the mean."""
    m, s = mean.astype(np.int64), noise.astype(np.int64)
    thr = np.maximum((s * k8) >> 3, tmin)
    c = m + shift
    lo = np.clip(-((thr - c) // B.SCALE), 0, 255)       # ceil((c - thr) / SCALE)
    hi = np.clip((c + thr) // B.SCALE, 0, 255)
    return lo.astype(np.uint8), hi.astype(np.uint8)


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
    want_lo, want_hi = twin_bounds(mean, noise, 3 * B.SCALE, k8, tmin)
    assert np.array_equal(lo, want_lo) and np.array_equal(hi, want_hi)
    assert (row_offset == 3).all()
    # and the bounds mean exactly "|SCALE * x - mean| > thr" for every luma x
    x = np.arange(256)[:, None, None]
    thr = np.maximum((noise.astype(int) * 28) >> 3, 512)
    fg_rule = np.abs(B.SCALE * x - (mean.astype(int) + 3 * B.SCALE)) > thr
    fg_bounds = ((x < lo) & (lo != 0)) | ((x > hi) & (hi != 255))
    assert np.array_equal(fg_rule, fg_bounds)


def twin_pass(luma, area, s, offset, clock, now, phase, step, tau, t_abs, min_age, k8, tmin):
    """NumPy twin of `_pass` on a dict of state copies; returns the new dict."""
    s = {k: v.copy() for k, v in s.items()}
    h, w = luma.shape
    x = luma.astype(np.int64)
    xs = x - (offset - s["row_offset"].astype(np.int64))[:, None]
    lo, hi = s["lo"].astype(np.int64), s["hi"].astype(np.int64)
    fg = (((xs < lo) & (lo != 0)) | ((xs > hi) & (hi != 255))) & (area != 0)
    nw = s["raw"].shape[1]
    bits = lambda words: np.unpackbits(words.view(np.uint8), bitorder="little")[:w].astype(bool)
    pack = lambda row: np.packbits(np.pad(row, (0, nw * 64 - w)), bitorder="little").view(np.uint64)
    g = offset * B.SCALE
    for i in range(h):
        if i % step == phase:
            a16 = int(min((1.0 - np.exp(-(clock - s["row_time"][i]) / tau)) * 65536.0, 32767.0))
            last = int(s["row_time"][i] * B.TICKS) & 0xFFFF
            mid = (last + (((int(now) - last) % 65536) >> 1)) % 65536
            s["row_time"][i] = clock
            xg = x[i] * B.SCALE - g
            m, n = s["mean"][i].astype(np.int64), s["noise"][i].astype(np.int64)
            dm = xg - m
            f = fg[i]
            st = np.where(f & bits(s["cont"][i]), s["stamp"][i], np.where(f, mid, now)).astype(np.int64)
            age = (now - st) % 65536
            absorb = f & (age > t_abs)
            keep = f & ~absorb
            m2 = np.where(keep, m, np.where(absorb, xg, m + ((dm * a16) >> 16)))
            n2 = np.where(f, n, np.maximum(n + (((np.minimum(np.abs(dm), 640) - n) * a16) >> 16), 16))
            s["mean"][i], s["noise"][i] = m2, n2
            s["stamp"][i] = np.where(keep, st, now)
            s["lo"][i], s["hi"][i] = twin_bounds(m2, n2, g, k8, tmin)
            s["row_offset"][i] = offset
            s["cont"][i] = ~np.uint64(0)
            s["old"][i] = pack(keep & (age >= min_age))
            fg[i] = keep
            s["raw"][i] = pack(fg[i])
        else:
            s["raw"][i] = pack(fg[i])
            s["cont"][i] &= s["raw"][i]
            s["old"][i] &= s["raw"][i]
    s["rows"] = ((s["raw"] != 0).any(axis=1) * B.RAW_ROW
                 | ((s["raw"] & s["old"]) != 0).any(axis=1) * B.OLD_ROW).astype(np.uint8)
    return s


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
    want = twin_pass(luma, area, before, **args)
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
    rows = np.arange(m._rstep // 2, H, m._rstep)
    cols = np.arange(m._cstep // 2, W, m._cstep)
    sub = np.ix_(rows, cols)
    xs = luma[sub].astype(int) - (m.offset - m.row_offset[rows].astype(int))[:, None]
    lo, hi = m.lo[sub].astype(int), m.hi[sub].astype(int)
    inside = area[sub] != 0
    changed = inside & (((xs < lo) & (lo != 0)) | ((xs > hi) & (hi != 255)))
    use = inside & (lo != 0) & (hi != 255)          # nothing is under a target here
    half_levels = np.sort((2 * xs - lo - hi)[use])
    med = half_levels[(len(half_levels) + 1) // 2 - 1]
    got = B._sample(luma, area, m.state, m.offset, m._clean_prev, m._rstep, m._cstep)
    assert got == (inside.sum(), changed.sum(), int(np.floor(med / 2 + 0.5)) if med >= 0
                   else -int(np.floor(-med / 2 + 0.5)), use.sum())
    assert got[2] == 5 and got[1] > 0


def twin_ghost(luma, raw, old, protect, mean, noise, lo, hi, row_offset, offset, a_g, k8, tmin):
    """NumPy/Python twin of `_ghost`; returns (mean, lo, hi, pulled)."""
    h, w = luma.shape
    unpack = lambda b: np.unpackbits(b.view(np.uint8), axis=1, bitorder="little")[:, :w].astype(bool)
    fg, od = unpack(raw), unpack(old) & ~unpack(protect)
    p = np.pad(fg, 1, constant_values=True)         # outside counts as foreground
    interior = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    mean, lo, hi = mean.copy(), lo.copy(), hi.copy()
    a16 = int(a_g * 65536.0)
    pulled = 0
    for i, j in zip(*np.nonzero(fg & od & ~interior)):
        x = int(luma[i, j])
        match = False
        for qi, qj in ((i, j - 1), (i, j + 1), (i - 1, j), (i + 1, j)):
            if 0 <= qi < h and 0 <= qj < w and not fg[qi, qj]:
                xs = x - (offset - int(row_offset[qi]))
                ql, qh = int(lo[qi, qj]), int(hi[qi, qj])
                match |= (xs >= ql or ql == 0) and (xs <= qh or qh == 255)
        if match:
            m = int(mean[i, j])
            m += ((x * B.SCALE - offset * B.SCALE - m) * a16) >> 16
            mean[i, j] = m
            a, b = twin_bounds(np.array([m]), noise[i, j:j + 1], int(row_offset[i]) * B.SCALE, k8, tmin)
            lo[i, j], hi[i, j] = a[0], b[0]
            pulled += 1
    return mean, lo, hi, pulled


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
    unprotected = twin_ghost(luma, s.raw, s.old, none, m.mean, m.noise, m.lo, m.hi, m.row_offset,
                             m.offset, 0.33, m._k, m._tmin)
    bits = none.copy()
    if protect:  # a target vouched for over the first row that would seep
        first = np.flatnonzero((unprotected[0] != m.mean).any(axis=1))[0]
        bits[first] = ~np.uint64(0)
    want = twin_ghost(luma, s.raw, s.old, bits, m.mean, m.noise, m.lo, m.hi, m.row_offset,
                      m.offset, 0.33, m._k, m._tmin)
    pulled = B._ghost(luma, s._replace(protect=bits), m.offset, 0.33, m._k, m._tmin)
    assert pulled == want[3] > 0 or (protect and pulled == want[3])
    assert (pulled < unprotected[3]) == protect
    assert np.array_equal(m.mean, want[0])
    assert np.array_equal(m.lo, want[1]) and np.array_equal(m.hi, want[2])
