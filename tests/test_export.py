"""Export: the xlsx read back with openpyxl, the png decoded with Pillow, failing devices leave nothing."""
from __future__ import annotations

import colorsys
import io
import os
import subprocess
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from openpyxl.xml.functions import tostring
from PIL import Image

from firmware.clock import to_clock
from firmware.export import ExportError, default_name, export_png, export_report, export_xlsx, write_atomic
from firmware.export_png import GREY, png_bytes, render
from firmware.export_xlsx import GRID_SECONDS
from firmware.heat_scale import colormap, in_area_cells, report_scale
from firmware.reports import build_report
from firmware.stats import HourRecord, Layout
from firmware.store import SqliteStatistics
from tests.test_store import LAYOUT, hour_record

DAY = date(2026, 11, 24)
# Analysis frames are 320x180 of a 640x360 source; snapshots are diagonal ramps so every
# pixel is checkable: one at the analysis size, one at the full source size.
BACKGROUND = (np.add.outer(np.arange(180), np.arange(320)) % 200 + 30).astype(np.uint8)
FULL_BACKGROUND = (np.add.outer(np.arange(360), np.arange(640)) % 200 + 30).astype(np.uint8)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(11)
    s = SqliteStatistics(tmp_path_factory.mktemp("state"))
    s.set_channel_name(1, "Shop floor")
    for h in range(10, 18):
        rec = hour_record(1, datetime(2026, 11, 24, h), rng)
        rec.visits[:, :2] = 0      # nobody walks along the left wall: zero cells
        rec.dwell[:, :2] = 0.0
        s.record(rec)
    s.save_background(1, 0.0, BACKGROUND)
    yield s
    s.close()


@pytest.fixture(scope="module")
def report(store):
    return build_report(store, 1, "daily", DAY, "dwell")


# --------------------------------------------------------------------------- xlsx


def test_workbook_reads_back_with_the_reports_numbers_dates_chart_and_colours(report, tmp_path):
    path = export_xlsx(report, tmp_path / default_name(report, "xlsx"), FULL_BACKGROUND)
    assert path.name == "heatmap_ch01_daily_2026-11-24_dwell.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "Time heat map", "Space heat map"]

    ws = wb["Summary"]
    assert (ws["A3"].value, ws["B3"].value) == ("Item", "Value")
    summary = {row[0].value: row[1] for row in ws.iter_rows(min_row=4, max_col=2) if row[0].value}
    assert summary["Camera"].value == "Shop floor (channel 1)"
    assert summary["Period from"].value == datetime(2026, 11, 24)
    assert summary["Period from"].is_date
    assert summary["Total visits"].value == report.visits_total
    assert summary["Total dwell time (s)"].value == pytest.approx(report.dwell_total, abs=1e-3)
    assert summary["Parameter: background update rate"].value == 60
    assert summary["Area 2"].value.startswith("3 points")
    assert summary["Picture colours"].value.startswith("log scale, blue ")
    assert isinstance(summary["Generated"].value, datetime)
    assert ws.freeze_panes == "A4"
    (picture,) = ws._images  # the heat picture, beside the table
    assert picture.anchor._from.col == 3 and picture.anchor._from.row == 2
    embedded = Image.open(io.BytesIO(picture._data()))
    assert embedded.size == render(report, FULL_BACKGROUND).size

    ws = wb["Time heat map"]
    rows = list(ws.iter_rows(min_row=2, max_row=25))
    assert len(rows) == len(report.buckets) == 24
    for row, b in zip(rows, report.buckets):
        label, start, end, visits, dwell, avg, hours, note = (c.value for c in row[:8])
        assert start == b.start and end == b.end and row[1].is_date
        if b.has_data:
            assert visits == b.visits and dwell == pytest.approx(b.dwell_seconds, abs=1e-3) and note is None
        else:
            assert visits is None and dwell is None and note == "no data"
    assert ws.cell(26, 1).value == "Total" and ws.cell(26, 4).value == report.visits_total
    assert ws.freeze_panes == "A2" and ws.print_title_rows == "$1:$1"
    (chart,) = ws._charts
    assert chart.anchor._from.row == 27 and chart.anchor._from.col == 0  # below the total (row 26), in A28
    assert ws.column_dimensions["B"].width > 10

    ws = wb["Space heat map"]
    rows_, cols = report.matrix.shape
    grid = [[ws.cell(4 + r, 2 + c).value for c in range(cols)] for r in range(rows_)]
    assert np.allclose(grid, report.dwell, atol=0.051)  # dwell is written to 0.1 s
    assert ws.cell(4, 2).number_format == GRID_SECONDS
    assert ws.freeze_panes == "B4"


def test_every_sheet_prints_landscape_one_page_wide_with_margins_and_page_numbers(report, tmp_path):
    wb = load_workbook(export_xlsx(report, tmp_path / "r.xlsx"))
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert int(ws.page_setup.paperSize) == 9  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
        assert ws.page_margins.left >= 0.4 and ws.page_margins.bottom >= 0.4
        assert "&P" in ws.oddFooter.right.text
    assert wb["Summary"].page_setup.fitToHeight == 1 and wb["Time heat map"].page_setup.fitToHeight == 1
    assert [b.id for b in wb["Space heat map"].row_breaks.brk] == [4 + 6]  # the second grid on its own page


def test_chart_axes_start_at_zero_the_line_is_straight_and_both_series_show(store, tmp_path):
    # One hour of data: a line without markers would show nothing.
    rep = build_report(store, 1, "weekly", DAY, "people")
    assert sum(b.has_data for b in rep.buckets) == 1
    (chart,) = load_workbook(export_xlsx(rep, tmp_path / "w.xlsx"))["Time heat map"]._charts
    xml = tostring(chart._write()).decode()
    assert xml.count('<min val="0"') == 2                    # both value axes from zero
    assert '<smooth val="0"' in xml and '<smooth val="1"' not in xml
    assert '<symbol val="circle"' in xml                     # markers: a single bucket still shows
    assert xml.count("<ser>") == 2                           # visits and dwell
    assert '<delete val="1"' not in xml                      # no axis hidden
    assert '<dispBlanksAs val="gap"' in xml                  # no data is a gap, not a zero


def test_grid_cells_take_the_pictures_colours_inside_the_areas_and_grey_outside(tmp_path):
    """One scale rule: a cell's fill is the picture's colour for its level, paled; cells outside
    every area are grey whatever they hold; zero is unfilled."""
    s = SqliteStatistics(tmp_path / "state")
    rng = np.random.default_rng(3)
    rec = hour_record(1, datetime(2026, 11, 24, 10), rng)
    rec.dwell[:] = 0.0
    rec.dwell[2, 2], rec.dwell[2, 3], rec.dwell[3, 3] = 5.0, 500.0, 50.0
    rec.dwell[0, 7] = 1e6       # top-right corner: outside both areas (a stray count must not set the scale)
    s.record(rec)
    rep = build_report(s, 1, "daily", DAY, "dwell")
    s.close()
    inside = in_area_cells(LAYOUT.regions, 6, 8, 180, 320)
    assert not inside[0, 7] and inside[2, 2] and inside[3, 3]
    ws = load_workbook(export_xlsx(rep, tmp_path / "g.xlsx"))["Space heat map"]

    def fill(r, c):
        return ws.cell(4 + r, 2 + c).fill.start_color.rgb

    scale, _ = report_scale(rep)  # the picture's scale

    def paled(value):
        level = round(float(scale.levels(value)) * 47) / 47
        rgb = colormap(np.array(level)) * 0.5 + 127.5
        return "FF" + "".join(f"{int(round(v)):02X}" for v in rgb)

    assert scale.high == 500.0                                      # the stray 1e6 outside is not the top
    assert fill(2, 2) == paled(5.0) == paled(0.001)                 # 5 s: the bottom colour, blue
    assert fill(2, 3) == paled(500.0) == paled(1e9)                 # 500 s: red
    assert fill(3, 3) == paled(50.0) not in (paled(5.0), paled(500.0))
    assert fill(0, 7) == "FFE6E6E6"                                 # outside: grey, however big
    assert ws.cell(4 + 1, 2 + 1).fill.fill_type is None             # zero inside: unfilled
    assert ws.cell(4 + 0, 2 + 7).value == 1e6                       # the number is still there


def test_people_model_puts_the_visits_grid_first(store, tmp_path):
    rep = build_report(store, 1, "weekly", DAY, "people")
    ws = load_workbook(export_xlsx(rep, tmp_path / "p.xlsx"))["Space heat map"]
    assert ws.cell(1, 1).value.startswith("Visits per cell")
    rows_, cols = rep.visits.shape
    assert [[ws.cell(4 + r, 2 + c).value for c in range(cols)] for r in range(rows_)] == rep.visits.tolist()
    time_ws = load_workbook(tmp_path / "p.xlsx")["Time heat map"]
    assert [time_ws.cell(r, 8).value for r in range(2, 9)] == ["no data"] + [None] + ["no data"] * 5


# --------------------------------------------------------------------------- png


def cell_centre(r: int, c: int, shape=(360, 640), grid=(6, 8)) -> tuple[int, int]:
    return int((r + 0.5) * shape[0] / grid[0]), int((c + 0.5) * shape[1] / grid[1])


def test_picture_is_a_smooth_density_over_the_full_size_background(report, tmp_path):
    path = export_png(report, tmp_path / "h.png", FULL_BACKGROUND)
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape[1] == 640 and img.shape[0] > 360            # the picture, then the legend strip
    assert png_bytes(report, FULL_BACKGROUND) == path.read_bytes()  # the web page's bytes are the file's
    picture = img[:360]
    # Columns 0-1 of the 8-column grid had nobody: the first eighth, more than a kernel's
    # reach from anyone, is the background unchanged (left of area 1's outline at x = 64).
    assert np.array_equal(picture[:, :60], np.repeat(FULL_BACKGROUND[:, :60, None], 3, axis=2))
    # The busiest cell is red-dominant at its centre.
    r, c = np.unravel_index(np.argmax(report.matrix), report.matrix.shape)
    red, green, blue = (int(v) for v in picture[cell_centre(r, c)])
    assert red > green + 40 and red > blue + 40
    # Smooth, not a lattice: over a flat background, across the boundaries of counted cells
    # (every 80 px) the colour changes in small steps rather than in one jump per cell.
    flat = np.asarray(render(report, np.full((360, 640), 100, np.uint8)))
    y = cell_centre(3, 4)[0]
    steps = np.abs(np.diff(flat[y, 100:370].astype(int), axis=0)).max(axis=1)  # inside area 1
    assert steps.max() < 25


def test_legend_is_a_strip_below_the_picture_running_blue_to_red(report):
    img = np.asarray(render(report, FULL_BACKGROUND))
    strip = img[360:].reshape(-1, 3).astype(int)
    assert ((strip[:, 2] > 200) & (strip[:, 0] < 40)).any()                       # blue end
    assert ((strip[:, 0] > 200) & (strip[:, 2] < 40) & (strip[:, 1] < 40)).any()  # red end


def test_colour_scale_runs_blue_green_yellow_red():
    stops = colormap(np.array([0.0, 1 / 3, 2 / 3, 1.0]))
    assert stops.tolist() == [[0, 0, 255], [0, 200, 0], [255, 230, 0], [255, 0, 0]]
    ramp = colormap(np.linspace(0, 1, 50))
    assert np.all(np.diff(ramp[:, 0]) >= 0)  # red only grows towards "most"


def test_a_small_snapshot_is_enlarged_and_a_missing_one_is_grey_and_said(report):
    small = np.asarray(render(report, BACKGROUND))
    assert small.shape[1] == 640                                   # 320x180 enlarged x2
    img = render(report, None)
    assert img.size[0] == 640                                      # the source size, 640x360
    assert img.getpixel((5, 5)) == (GREY, GREY, GREY)
    assert img.size[1] > small.shape[0]                            # one more legend line: "no background"


def test_one_stander_does_not_flatten_the_walkers_lanes(tmp_path):
    """A person standing all day (30,000 s in one cell) and walkers' lanes of 20 s and
    200 s a cell: the lanes stay visible in colours distinct from each other and from
    the stander, where a linear scale would paint both lanes the colour of almost nothing."""
    layout = Layout(18, 32, (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),), (50, 50, 50, 50),
                    640, 360, 640, 360)
    dwell = np.zeros((18, 32))
    dwell[4, 2:30] = 20.0       # a lane people walk through quickly
    dwell[12, 2:30] = 200.0     # a lane where they slow down
    dwell[8, 16] = 30000.0      # one stander
    visits = (dwell > 0).astype(np.int32) * 40
    s = SqliteStatistics(tmp_path / "state")
    s.record(HourRecord(1, int(to_clock(datetime(2026, 11, 24, 10))), layout, visits, dwell,
                        np.array([800]), np.array([dwell.sum()]), 800, float(dwell.sum()), 3600.0, 0))
    rep = build_report(s, 1, "daily", DAY, "dwell")
    s.close()
    grey = np.full((360, 640), 100, np.uint8)
    img = np.asarray(Image.open(io.BytesIO(png_bytes(rep, grey))).convert("RGB"))

    def hue(r, c):
        y, x = cell_centre(r, c, grid=(18, 32))
        rgb = img[y, x].astype(float) / 255
        h, s_, _ = colorsys.rgb_to_hsv(*rgb)
        return h * 360, s_

    quick, slow, stander = hue(4, 8), hue(12, 8), hue(8, 16)
    assert quick[1] > 0.5 and slow[1] > 0.5         # both lanes coloured, not the background's grey
    assert 170 < quick[0] < 260                     # blue-ish
    assert 80 < slow[0] < 170                       # green-ish
    assert stander[0] < 20 or stander[0] > 340      # red
    assert abs(quick[0] - slow[0]) > 50


# --------------------------------------------------------------------------- devices


def test_export_writes_both_files_under_default_names(report, store, tmp_path):
    written = export_report(report, tmp_path, store.background(1)[1])
    assert [p.name for p in written] == [
        "heatmap_ch01_daily_2026-11-24_dwell.xlsx", "heatmap_ch01_daily_2026-11-24_dwell.png"]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in written)


def test_missing_device_or_a_file_instead_is_one_line_and_writes_nothing(report, tmp_path):
    with pytest.raises(ExportError, match="is not present; insert it or set appliance.export_device"):
        export_report(report, tmp_path / "usb", None)
    assert not (tmp_path / "usb").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="not a directory"):
        export_report(report, tmp_path / "file", None)


def test_a_failing_writer_leaves_no_temporary_file(tmp_path):
    def half(f):
        f.write(b"half a workbook")
        raise RuntimeError("device pulled")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "r.xlsx", half)
    assert os.listdir(tmp_path) == []


@contextmanager
def mounted_tmpfs(where: Path, options: str):
    """A real read-only or tiny filesystem; root needs one, since root ignores permission bits."""
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if r.returncode:
        pytest.skip(f"running as root and cannot mount a tmpfs ({r.stderr.decode().strip()}): "
                    "no way to make a directory root cannot write")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@contextmanager
def read_only_dir(where: Path):
    if os.geteuid() == 0:
        with mounted_tmpfs(where, "ro,size=64k") as d:
            yield d
        return
    where.mkdir()
    where.chmod(0o555)
    try:
        yield where
    finally:
        where.chmod(0o755)


def test_read_only_device_is_one_line_and_leaves_no_temporary_files(report, tmp_path):
    with read_only_dir(tmp_path / "ro") as d:
        with pytest.raises(ExportError, match="is not writable; check it is not write-protected"):
            export_report(report, d, None)
        with pytest.raises(ExportError, match="not writable"):
            export_xlsx(report, d / "x.xlsx")
        assert os.listdir(d) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tiny tmpfs standing for a full USB stick")
def test_full_device_is_one_line_and_leaves_no_half_file(report, tmp_path):
    with mounted_tmpfs(tmp_path / "full", "size=8k") as d:
        with pytest.raises(ExportError, match="check free space on the device"):
            export_report(report, d, BACKGROUND)
        assert [n for n in os.listdir(d) if n.startswith(".")] == []
