"""Export: the xlsx read back with openpyxl, the png decoded with Pillow, failing devices leave nothing."""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image

from firmware.export import ExportError, default_name, export_png, export_report, export_xlsx, write_atomic
from firmware.export_png import GREY, render
from firmware.reports import build_report
from firmware.store import SqliteStatistics
from tests.test_store import hour_record

DAY = date(2026, 11, 24)
# Analysis frames are 320x180; the snapshot is a diagonal ramp so every pixel is checkable.
BACKGROUND = (np.add.outer(np.arange(180), np.arange(320)) % 200 + 30).astype(np.uint8)


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


def test_workbook_reads_back_with_the_reports_numbers_dates_chart_and_colour_scale(report, tmp_path):
    path = export_xlsx(report, tmp_path / default_name(report, "xlsx"))
    assert path.name == "heatmap_ch01_daily_2026-11-24_dwell.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "Time heat map", "Space heat map"]

    summary = {row[0].value: row[1] for row in wb["Summary"].iter_rows(min_row=3) if row[0].value}
    assert summary["Camera"].value == "Shop floor (channel 1)"
    assert summary["Period from"].value == datetime(2026, 11, 24)
    assert summary["Period from"].is_date
    assert summary["Total visits"].value == report.visits_total
    assert summary["Total dwell time (s)"].value == pytest.approx(report.dwell_total, abs=1e-3)
    assert summary["Parameter: background update rate"].value == 60
    assert summary["Area 2"].value.startswith("3 points")
    assert isinstance(summary["Generated"].value, datetime)

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
    assert len(ws._charts) == 1
    assert ws.column_dimensions["B"].width > 10

    ws = wb["Space heat map"]
    rules = [r for cf in ws.conditional_formatting for r in cf.rules]
    assert len(rules) == 2 and all(r.type == "colorScale" for r in rules)
    rows_, cols = report.matrix.shape
    grid = [[ws.cell(4 + r, 2 + c).value for c in range(cols)] for r in range(rows_)]
    assert np.allclose(grid, report.dwell, atol=0.051)  # dwell is written to 0.1 s
    assert ws.cell(4, 2).number_format == "#,##0.0"


def test_people_model_puts_the_visits_grid_first(store, tmp_path):
    rep = build_report(store, 1, "weekly", DAY, "people")
    ws = load_workbook(export_xlsx(rep, tmp_path / "p.xlsx"))["Space heat map"]
    assert ws.cell(1, 1).value.startswith("Visits per cell")
    rows_, cols = rep.visits.shape
    assert [[ws.cell(4 + r, 2 + c).value for c in range(cols)] for r in range(rows_)] == rep.visits.tolist()
    time_ws = load_workbook(tmp_path / "p.xlsx")["Time heat map"]
    assert [time_ws.cell(r, 8).value for r in range(2, 9)] == ["no data"] + [None] + ["no data"] * 5


# --------------------------------------------------------------------------- png


def test_picture_blends_over_the_background_and_zero_cells_show_it_unchanged(report, tmp_path):
    path = export_png(report, tmp_path / "h.png", BACKGROUND)
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (360, 640, 3)  # 320x180 snapshot enlarged x2 so the legend fits
    _, box = render(report, BACKGROUND)
    x0, y0, x1, y1 = box
    assert x1 <= 640 and y1 <= 360 and x0 > 320 and y0 > 180  # bottom-right corner

    bg = np.repeat(np.repeat(BACKGROUND, 2, 0), 2, 1)
    # Columns 0-1 of the 8-column grid had nobody: the first quarter of the width is background.
    left = img[:, :160]
    assert np.array_equal(left, np.repeat(bg[:, :160, None], 3, axis=2))
    # Cells with people are tinted, and the busiest cell is red-dominant.
    right = img[: y0 - 1, 160:x0]
    assert (right != bg[: y0 - 1, 160:x0, None]).any(axis=2).mean() > 0.95
    r, c = np.unravel_index(np.argmax(report.matrix), report.matrix.shape)
    py, px = int((r + 0.5) * 360 / 6), int((c + 0.5) * 640 / 8)
    if not (x0 <= px < x1 and y0 <= py < y1):
        red, green, blue = (int(v) for v in img[py, px])
        assert red > green and red > blue

    # The legend's colour bar runs from blue to red.
    legend = img[y0:y1, x0:x1].reshape(-1, 3).astype(int)
    assert ((legend[:, 2] > 200) & (legend[:, 0] < 40)).any()   # blue end
    assert ((legend[:, 0] > 200) & (legend[:, 2] < 40) & (legend[:, 1] < 40)).any()  # red end


def test_colour_scale_runs_blue_green_yellow_red():
    from firmware.export_png import colormap

    stops = colormap(np.array([0.0, 1 / 3, 2 / 3, 1.0]))
    assert stops.tolist() == [[0, 0, 255], [0, 200, 0], [255, 230, 0], [255, 0, 0]]
    ramp = colormap(np.linspace(0, 1, 50))
    assert np.all(np.diff(ramp[:, 0]) >= 0)  # red only grows towards "most"


def test_without_a_snapshot_the_picture_is_on_grey_and_says_so(report, tmp_path):
    img, box = render(report, None)
    assert img.size == (640, 360)
    assert img.getpixel((5, 5)) == (GREY, GREY, GREY)
    with_bg, box_bg = render(report, BACKGROUND)
    assert box[3] - box[1] > box_bg[3] - box_bg[1]  # one more legend line: "no background snapshot"


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
    with pytest.raises(ExportError, match="no export device configured"):
        export_report(report, None, None)


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
