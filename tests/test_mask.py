"""Area mask: the fast rasteriser agrees with a slow point-in-polygon test per pixel."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.naive import slow_grow, slow_labels
from vca.mask import area_labels, grow_mask, rasterize_areas


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
    np.testing.assert_array_equal(grow_mask(mask, margin, np.zeros_like(mask)), slow_grow(mask, margin))
