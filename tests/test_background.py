"""What a user of the background model notices, on small synthetic scenes."""
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
