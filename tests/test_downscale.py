"""Integer-factor area downscale against its slow twin (tests/naive.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hal.capture import PyAVCapture
from tests.naive import slow_downscale
from hal.downscale import (MAX_FACTOR, RECIPROCAL_BITS, AreaDownscaler, area_downscale,
                           downscale_factor, reciprocal)


@pytest.mark.parametrize("width, asked, factor", [
    (1920, 640, 3), (1280, 640, 2), (1000, 640, 1), (640, 640, 1), (320, 640, 1),
    (704, 352, 2), (160, None, 1), (1919, 640, 2),
])
def test_factor_never_goes_below_the_requested_width(width, asked, factor):
    assert downscale_factor(width, asked) == factor
    if asked is not None and width >= asked:
        assert width // factor >= asked


@given(src=arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))),
       f=st.integers(1, 6), pad=st.integers(0, 9))
@settings(max_examples=200, deadline=None)
def test_kernel_matches_reference_on_strided_views(src, f, pad):
    f = min(f, *src.shape)
    # The decoder hands out rows padded to the line size: reproduce that stride.
    padded = np.zeros((src.shape[0], src.shape[1] + pad), np.uint8)
    padded[:, :src.shape[1]] = src
    view = padded[:, :src.shape[1]]
    np.testing.assert_array_equal(area_downscale(view, f), slow_downscale(src, f))


def test_downscaler_is_zero_copy_at_factor_one_and_reuses_its_buffer():
    frame = np.arange(120 * 160, dtype=np.uint32).astype(np.uint8).reshape(120, 160)
    same = AreaDownscaler(160, 120, 200)
    assert same(frame) is frame
    half = AreaDownscaler(160, 120, 80)
    a = half(frame)
    b = half(frame[::-1])
    assert a is b and a.shape == (60, 80)
    np.testing.assert_array_equal(b, slow_downscale(frame[::-1], 2))


def test_decoded_frames_downscale_like_the_reference(clip):
    frames = [np.random.default_rng(k).integers(0, 256, (180, 320), dtype=np.uint8) for k in range(3)]
    path = clip("noise.mp4", frames, fps=25)
    with PyAVCapture(str(path)) as full, PyAVCapture(str(path), analysis_width=100) as small:
        assert small.info.analysis_width == 106 and small.info.analysis_height == 60   # f = 3
        assert (small.info.width, small.info.height) == (320, 180)
        for _ in frames:
            want = slow_downscale(full.read().luma, 3)
            np.testing.assert_array_equal(small.read().luma, want)


@pytest.mark.parametrize("bad", [0, -5])
def test_bad_analysis_width_names_the_fix(bad):
    with pytest.raises(ValueError, match="analysis_width must be >= 1"):
        PyAVCapture("x.mp4", analysis_width=bad)


@pytest.mark.parametrize("f", range(1, 12))
def test_division_by_reciprocal_is_exact_for_every_block_sum(f):
    m = reciprocal(f)
    area = f * f
    sums = np.arange(255 * area + area // 2 + 1, dtype=np.uint64)
    assert (m != 0) == (f <= 8)  # factors up to 8 (2560 -> 320) multiply, larger ones divide
    if m:  # the kernel multiplies and shifts in uint32
        assert int(sums[-1]) * m < 2 ** 32
        np.testing.assert_array_equal((sums * np.uint64(m)) >> np.uint64(RECIPROCAL_BITS), sums // area)


@pytest.mark.parametrize("f", [2, 3, 4, 5, 9])
def test_each_kernel_branch_matches_the_reference_at_camera_sizes(f):
    rng = np.random.default_rng(f)
    src = rng.integers(0, 256, (9 * f + 1, 64 * f + 3), dtype=np.uint8)
    src[:f, :f] = 255  # a saturated block: the largest sum each branch sees
    np.testing.assert_array_equal(area_downscale(src, f), slow_downscale(src, f))


def test_factor_is_capped_so_column_sums_fit():
    assert downscale_factor(7680, 1) == MAX_FACTOR
    with pytest.raises(ValueError, match="factor must be between 1 and"):
        area_downscale(np.zeros((300, 300), np.uint8), MAX_FACTOR + 1)
