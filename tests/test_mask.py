"""Area mask: the fast rasteriser agrees with a slow point-in-polygon test per pixel."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vca.mask import area_labels, grow_mask, rasterize_areas


def slow_inside(poly, x, y):
    """PNPOLY crossing-number test, pure Python."""
    inside = False
    n = len(poly)
    j = n - 1
    for i in range(n):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def slow_labels(regions, h, w):
    out = np.zeros((h, w), np.uint8)
    for yy in range(h):
        for xx in range(w):
            cx, cy = (xx + 0.5) / w, (yy + 0.5) / h
            for k, poly in enumerate(regions):
                if slow_inside([(float(a), float(b)) for a, b in poly], cx, cy):
                    out[yy, xx] = k + 1
                    break
    return out


coord = st.floats(0.0, 1.0, allow_nan=False)
# Grid-aligned coordinates hit pixel centres and edges exactly: the hard cases.
snapped = st.integers(0, 32).map(lambda v: v / 32)
point = st.tuples(st.one_of(coord, snapped), st.one_of(coord, snapped))
polygon = st.lists(point, min_size=3, max_size=10)


@settings(max_examples=150, deadline=None)
@given(regions=st.lists(polygon, min_size=1, max_size=8),
       h=st.integers(1, 24), w=st.integers(1, 32))
def test_matches_slow_point_in_polygon(regions, h, w):
    labels, any_area = area_labels(regions, h, w)
    expected = slow_labels(regions, h, w)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(any_area, (expected > 0).astype(np.uint8))


def test_rectangle_covers_exactly_its_pixels():
    labels, any_area = area_labels([[(0.25, 0.5), (0.75, 0.5), (0.75, 1.0), (0.25, 1.0)]], 8, 16)
    expected = np.zeros((8, 16), np.uint8)
    expected[4:8, 4:12] = 1
    np.testing.assert_array_equal(labels, expected)
    assert any_area.sum() == 32


def test_overlap_lowest_area_wins_and_whole_frame():
    full = [(0, 0), (1, 0), (1, 1), (0, 1)]
    left = [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]
    labels, _ = area_labels([left, full], 4, 8)
    assert (labels[:, :4] == 1).all() and (labels[:, 4:] == 2).all()


def test_rewrites_previous_areas():
    labels = np.full((4, 4), 7, np.uint8)
    any_area = np.ones((4, 4), np.uint8)
    assert rasterize_areas([], labels, any_area) == 0
    assert labels.sum() == 0 and any_area.sum() == 0


@pytest.mark.parametrize("regions, words", [
    ([[(0, 0), (1, 0)]], "3 to 10 points"),
    ([[(0, 0), (1.5, 0), (1, 1)]], "coordinates 0..1"),
    ([[(0, 0), (1, 0), (1, 1)]] * 9, "at most 8"),
    ([[(0, 0), (1, 0), "x"]], "(x, y) numbers"),
])
def test_bad_areas_give_one_line_naming_the_fix(regions, words):
    with pytest.raises(ValueError, match=None) as err:
        area_labels(regions, 4, 4)
    msg = str(err.value)
    assert words in msg and "\n" not in msg


@settings(max_examples=60, deadline=None)
@given(mask=st.integers(1, 20).flatmap(lambda h: st.integers(1, 20).flatmap(
    lambda w: st.lists(st.integers(0, 1), min_size=h * w, max_size=h * w).map(
        lambda v: np.array(v, np.uint8).reshape(h, w)))), margin=st.integers(0, 6))
def test_grow_matches_slow_square_dilation(mask, margin):
    h, w = mask.shape
    expected = np.zeros_like(mask)
    for y, x in zip(*np.nonzero(mask)):
        expected[max(y - margin, 0):y + margin + 1, max(x - margin, 0):x + margin + 1] = 1
    np.testing.assert_array_equal(grow_mask(mask, margin, np.zeros_like(mask)), expected)
