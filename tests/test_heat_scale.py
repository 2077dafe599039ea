"""The one colour-scale rule of the picture, the workbook and the console."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firmware.heat_scale import format_value, heat_scale, in_area_cells


def slow_in_area_cells(regions, rows, cols, height, width):
    """Slow twin: every analysis pixel centre tested against every polygon (even-odd), then its cell."""
    def inside(poly, x, y):
        hit = False
        for i in range(len(poly)):
            (xi, yi), (xj, yj) = poly[i], poly[i - 1]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                hit = not hit
        return hit

    cells = np.zeros((rows, cols), bool)
    for py in range(height):
        for px in range(width):
            x, y = (px + 0.5) / width, (py + 0.5) / height
            if any(inside(p, x, y) for p in regions):
                cells[py * rows // height, px * cols // width] = True
    return cells


point = st.tuples(st.floats(0, 1), st.floats(0, 1))


@settings(max_examples=20, deadline=None)
@given(st.lists(point, min_size=3, max_size=6), st.integers(2, 9), st.integers(2, 12))
def test_in_area_cells_are_those_holding_an_area_pixel(poly, rows, cols):
    assert np.array_equal(in_area_cells([poly], rows, cols, 18, 32), slow_in_area_cells([poly], rows, cols, 18, 32))


def test_without_areas_no_cell_is_inside():
    assert not in_area_cells((), 6, 8, 180, 320).any()


def test_cells_outside_the_areas_do_not_set_the_scale():
    grid = np.array([[1.0, 10.0, 100.0, 1e6]])
    inside = np.array([[True, True, True, False]])
    s = heat_scale(grid, inside, "dwell")
    assert s.high == 100.0 and s.kind == "log" and not s.empty


def test_dwell_is_a_log_scale_so_each_order_of_magnitude_gets_its_colours():
    lanes = np.array([[20.0] * 30 + [200.0] * 30 + [2000.0, 20000.0]])
    s = heat_scale(lanes, np.ones(lanes.shape, bool), "dwell")
    lv = s.levels([20.0, 200.0, 2000.0, 20000.0])
    assert lv[0] == 0.0 and lv[3] == 1.0
    assert lv[1] - lv[0] == pytest.approx(lv[3] - lv[2])        # 20 -> 200 as far apart as 2,000 -> 20,000
    assert s.value_at(0.5) == pytest.approx(math.sqrt(20 * 20000))
    # The bottom is the 5th percentile, so slivers (0.1 s) do not spend the colours.
    slivers = np.concatenate([lanes[0], [0.1]])[None]
    assert heat_scale(slivers, np.ones(slivers.shape, bool), "dwell").low == 20.0


def test_visits_are_linear_to_the_99th_percentile_and_say_when_cut():
    visits = np.arange(1, 201, dtype=float)[None]
    visits[0, -1] = 50_000  # one door cell
    s = heat_scale(visits, np.ones(visits.shape, bool), "people")
    assert s.kind == "linear" and s.low == 0.0
    assert s.high == pytest.approx(np.percentile(visits, 99)) and s.clipped
    assert s.levels([50_000])[0] == 1.0 and s.levels([s.high / 2])[0] == pytest.approx(0.5)
    assert s.labels("people")[-1].startswith(">=")


def test_zero_has_no_colour_and_an_empty_grid_has_no_scale():
    s = heat_scale(np.array([[0.0, 5.0]]), np.ones((1, 2), bool), "dwell")
    lv = s.levels([[0.0, 5.0]])
    assert math.isnan(lv[0, 0]) and lv[0, 1] == 1.0
    empty = heat_scale(np.zeros((2, 2)), np.ones((2, 2), bool), "people")
    assert empty.empty and np.isnan(empty.levels(np.ones((2, 2)))).all()


def test_legend_numbers_are_rounded_for_reading():
    assert format_value(29816.81, "dwell") == "30,000"
    assert format_value(19.51, "dwell") == "20"
    assert format_value(8.44, "dwell") == "8.4"
    assert format_value(1403.9, "people") == "1,404"


@pytest.mark.parametrize("top, expected", [(1, ["0", "1"]), (3, ["0", "1", "2", "3"]), (4, ["0", "1", "2", "3", "4"]),
                                           (100, ["0", "25", "50", "75", "100"])])
def test_visit_legends_read_whole_distinct_counts(top, expected):
    in_area = np.ones((2, 3), bool)
    s = heat_scale(np.array([[0, 1, top], [top, top, top]]), in_area, "people")
    assert s.labels("people") == expected
    assert [round(t * s.high) for t, _ in s.ticks()] == [int(x) for x in expected]
