"""The console's text pictures fit a VT100 and show what the data says."""
from __future__ import annotations

import re

import numpy as np

from menu import render

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def visible(line: str) -> str:
    return ANSI.sub("", line)


def test_preview_maps_luma_to_the_ramp_and_fits_80_columns():
    luma = np.zeros((120, 160), np.uint8)
    luma[:, 80:] = 255  # right half white
    lines = render.preview_lines(luma, [])
    assert all(len(line) <= 80 for line in lines)
    body = [line[5:-1] for line in lines[2:-1]]
    assert len(body) == 20 and all(len(row) == 64 for row in body)
    assert all(row[:32] == " " * 32 and row[32:] == "@" * 32 for row in body)


def test_preview_draws_each_area_outline_with_its_number_at_its_coordinates():
    square = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5))
    triangle = ((1.0, 1.0), (0.75, 1.0), (1.0, 0.75))
    lines = render.preview_lines(None, [square, triangle])
    body = [line[5:-1] for line in lines[2:-1]]
    assert body[0][0] == "1" and body[0][32] == "1"           # top edge of area 1, 0 % to 50 %
    assert body[10][0] == "1" and body[5][1] == " "           # left edge; inside stays empty
    assert body[19][63] == "2" and body[19][47] == "2"        # area 2's corner at 100 %, 100 %
    assert "2" not in "".join(body[:14])
    assert lines[0].split() == ["x%", "0", "25", "50", "75", "100"]
    assert lines[2].startswith("  0 |") and lines[-2].startswith("100 |")


def test_heat_map_pools_cells_by_their_busiest_and_labels_the_number_per_cell():
    grid = np.zeros((36, 64), int)
    grid[0, 0] = grid[0, 1] = grid[1, 0] = 5  # one 2x2 block: its busiest cell has 5
    grid[20, 40] = 1
    lines = render.heat_map_lines(grid.tolist(), color=False, unit="visits")
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) == 18 + 4                                 # 36 rows pooled by 2, borders, legend
    assert lines[1][1:3] == "@@" and set(lines[1][3:-1]) == {" "}
    assert lines[11][1 + 40] == lines[11][2 + 40] != " "        # a single visit still shows
    # The number is one cell's, never a block's sum (15 here, more than anyone who came).
    assert lines[-2].startswith("Legend: 1 ") and lines[-2].endswith("] 5 visits in one cell")
    assert lines[-1] == "(a block: the busiest of its 2x2 cells; blank: nobody, or outside the areas)"


def test_the_console_colours_cells_by_the_reports_scale():
    """The firmware's levels (details.scale) decide the colours, so the console, the picture
    and the workbook agree; the legend shows the scale's own labels."""
    grid = np.zeros((4, 4))
    grid[0, 0], grid[1, 1], grid[2, 2] = 30000.0, 200.0, 20.0
    levels = [[None] * 4 for _ in range(4)]
    levels[0][0], levels[1][1], levels[2][2] = 1.0, 0.5, 0.0
    scale = {"kind": "log", "labels": ["20", "63", "200", "630", "2,000"], "levels": levels,
             "stops": [[0.0, [0, 0, 255]], [0.333, [0, 200, 0]], [0.667, [255, 230, 0]], [1.0, [255, 0, 0]]]}
    lines = render.heat_map_lines(grid, color=True, unit="s dwell", scale=scale)
    codes = [re.findall(r"\x1b\[48;5;(\d+)m", line) for line in lines[1:5]]
    assert codes[0][0] == str(render.xterm_colour(1.0)) == "196"     # red
    assert codes[2][0] == str(render.xterm_colour(0.0)) == "21"      # blue
    assert codes[1][0] == str(render.xterm_colour(0.5, scale["stops"]))
    assert render.xterm_colour(0.5) not in (21, 196)
    assert visible(lines[-2]).startswith("Legend: 20 [") and visible(lines[-2]).endswith(
        "] 2,000 s dwell in one cell, log scale")


def test_colour_can_be_switched_off_and_colour_lines_still_fit():
    grid = np.arange(36 * 64, dtype=float).reshape(36, 64)
    plain = render.heat_map_lines(grid, color=False, unit="s dwell")
    colour = render.heat_map_lines(grid, color=True, unit="s dwell")
    assert not any("\x1b" in line for line in plain)
    assert any("\x1b[48;5;" in line for line in colour)
    assert all(len(visible(line)) <= 80 for line in colour)
    assert all(line.endswith(render.RESET + "|") for line in colour[1:-3])  # colour never leaks


def test_time_table_shows_no_data_apart_from_zero_and_bars_scale_to_the_top_bucket():
    report = {
        "report_type": "daily", "model": "people",
        "buckets": [
            {"start": "2026-11-24T00:00:00", "end": "2026-11-24T01:00:00", "visits": None,
             "dwell_seconds": None, "has_data": False},
            {"start": "2026-11-24T01:00:00", "end": "2026-11-24T02:00:00", "visits": 0,
             "dwell_seconds": 0.0, "has_data": True},
            {"start": "2026-11-24T02:00:00", "end": "2026-11-24T03:00:00", "visits": 10,
             "dwell_seconds": 12.5, "has_data": True},
            {"start": "2026-11-24T03:00:00", "end": "2026-11-24T04:00:00", "visits": 5,
             "dwell_seconds": 3.25, "has_data": True},
        ],
        "totals": {"visits": 15, "dwell_seconds": 15.75},
    }
    lines = render.time_table_lines(report, bar_width=20)
    assert lines[1].split() == ["00:00", "-", "-", "(no", "data)"]
    assert lines[2].split() == ["01:00", "0", "0"]
    assert lines[3].split() == ["02:00", "10", "12.5", "#" * 20]
    assert lines[4].split() == ["03:00", "5", "3.25", "#" * 10]
    assert lines[5].split() == ["Total", "15", "15.75"]


def test_bucket_labels_match_the_workbook():
    b = {"start": "2026-11-23T00:00:00", "end": "2026-11-24T00:00:00"}
    assert render.bucket_label(b, "weekly") == "Mon 23 Nov"
    assert render.bucket_label({"start": "2026-02-01T00:00:00"}, "annual") == "Feb 2026"
