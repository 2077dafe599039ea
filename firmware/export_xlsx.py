"""The report as an Excel workbook a store manager can read, and print, without the manual.

Three sheets, each set up to print on A4 landscape with margins, page
numbers and one page wide:

Summary
    A two-column table (what, value): camera, period, type, model, totals,
    colour scale, areas, parameters, when generated; the heat picture
    (`firmware.export_png`) beside it. Fits one page.
Time heat map
    A row per bucket (real date cells; a bucket without analysed time reads
    "no data" with empty number cells), the total, and below the table a
    native chart sized to the table's width: visits as bars on the left axis,
    dwell as a straight line with markers on the right axis (both from zero;
    markers so a single bucket shows), gaps where there is no data. The
    header row repeats and stays frozen. Fits one page.
Space heat map
    The chosen model's grid as numbers (row 1 is the top of the picture),
    then the other model's grid, each on a page of its own. Cells inside the
    areas are filled by the colour rule of `firmware.heat_scale` (the
    picture's and the console's), pale enough to read the numbers; cells
    outside every area are grey; zero is unfilled. Fills are values, not
    conditional formats, so Excel, LibreOffice and a printout show the same.

Column widths are computed from the longest formatted number, so no cell
prints as "###".
"""
from __future__ import annotations

import io
import math
from typing import BinaryIO

import numpy as np
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.page import PageMargins

from firmware.heat_scale import HeatScale, colormap, heat_scale, in_area_cells, report_scale
from firmware.reports import Report

DATE = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"
SECONDS = "#,##0.0"
COUNT = "#,##0"
# Grid cells: one decimal below 100 s (a lane's slivers), whole seconds above (narrow
# columns); zero shows blank (the value is still 0 for formulas).
GRID_SECONDS = '[>=100]#,##0;[>0]0.0;""'
GRID_COUNT = '#,##0;-#,##0;""'
LINE_HEIGHT_PT = 14.5  # a wrapped line of the Summary table
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", start_color="FFDDE4EE")
_OUTSIDE_FILL = PatternFill("solid", start_color="FFE6E6E6")
_OUTSIDE_FONT = Font(size=7, color="FF8C8C8C")
_GRID_FONT = Font(size=7)
_GRID_HEAD = Font(size=7, bold=True)
_THIN = Side(style="thin", color="FFA0A0A0")
_TABLE_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
FILL_STEPS = 48          # colour levels in the grid fills (fewer styles, no visible banding)
PALE = 0.5               # share of white mixed into the picture's colours so numbers stay readable
PICTURE_WIDTH_PX = 600   # the heat picture's display width on the Summary sheet
CHART_HEIGHT_CM = 9.0


def write_xlsx(report: Report, out: BinaryIO, picture: bytes | None = None) -> None:
    """Write the workbook; `picture` is the heat picture's PNG (embedded on the Summary sheet)."""
    wb = Workbook()
    _summary(wb.active, report, picture)
    _time_sheet(wb.create_sheet("Time heat map"), report)
    _space_sheet(wb.create_sheet("Space heat map"), report)
    # Build in memory, then one write: openpyxl's zip writer left half-closed on a
    # full device would complain at garbage collection; a report is well under 1 MB.
    buf = io.BytesIO()
    wb.save(buf)
    out.write(buf.getvalue())


# --------------------------------------------------------------------------- page setup

def _print_setup(ws, r: Report, *, pages_tall: int | None) -> None:
    """A4 landscape, one page wide (and `pages_tall` pages tall, None: as many as needed),
    margins, the sheet's and the camera's names and page numbers in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = pages_tall or 0
    ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.6, bottom=0.7, header=0.3, footer=0.3)
    ws.print_options.horizontalCentered = True
    ws.oddFooter.left.text = f"{r.channel_name} (channel {r.channel}) - {r.report_type} report {r.period_label}"
    ws.oddFooter.left.size = 8
    ws.oddFooter.center.text = "&A"
    ws.oddFooter.center.size = 8
    ws.oddFooter.right.text = "Page &P of &N"
    ws.oddFooter.right.size = 8


def _width_cm(ws, columns: str) -> float:
    """Printed width of columns (letters) in cm: a width unit is a '0' of the default font (7 px) plus padding."""
    px = sum(((ws.column_dimensions[c].width or 8.43) * 7 + 5) for c in columns)
    return px / 96 * 2.54


# --------------------------------------------------------------------------- summary

def _bucket_label(report: Report, start) -> str:
    if report.report_type == "daily":
        return f"{start:%H:%M}"
    if report.report_type == "annual":
        return f"{start:%b %Y}"
    return f"{start:%a %d %b}"


def scale_description(scale: HeatScale, model: str) -> str:
    """The colour scale in words, e.g. "log scale, blue 20 s to red 30,000 s per cell, ..."."""
    if scale.empty:
        return "nothing counted inside the areas"
    labels = scale.labels(model)
    unit = " s" if model == "dwell" else " visits"
    return f"{scale.kind} scale, blue {labels[0]}{unit} to red {labels[-1]}{unit} per cell, cells inside the areas only"


def _summary(ws, r: Report, picture: bytes | None) -> None:
    ws.title = "Summary"
    ws["A1"] = f"Heat map report - {r.channel_name}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = f"{r.report_type.capitalize()} report {r.period_label}, " \
               f"{'dwell time' if r.model == 'dwell' else 'people counting'}"
    lay = r.layout
    scale, _ = report_scale(r)
    rows: list[tuple[str, object, str | None]] = [
        ("Camera", f"{r.channel_name} (channel {r.channel})", None),
        ("Report type", r.report_type.capitalize(), None),
        ("Period", r.period_label, None),
        ("Statistical model", "Dwell time" if r.model == "dwell" else "People counting", None),
        ("Period from", r.start, DATE),
        ("Period to (not included)", r.end, DATE),
        ("Total visits", r.visits_total, COUNT),
        ("Total dwell time (s)", round(r.dwell_total, 3), SECONDS),
        ("Average dwell per visit (s)", None if r.average_dwell is None else round(r.average_dwell, 3), SECONDS),
        ("Hours with data", r.hours_with_data, COUNT),
        ("Hours left out of the space heat map (other layout)", r.excluded_hours, COUNT),
        ("Scene changes", r.scene_changes, COUNT),
        ("Grid (rows x columns)", f"{lay.grid_rows} x {lay.grid_columns}", None),
        ("Picture colours", scale_description(scale, r.model), None),
        ("Generated", r.generated, DATE),
    ]
    rows += [(f"Parameter: {k.replace('_', ' ')}", v, COUNT) for k, v in r.parameters.items()]
    for i, poly in enumerate(lay.regions):
        pts = " ".join(f"({x:.3f}, {y:.3f})" for x, y in poly)
        rows.append((f"Area {i + 1}", f"{len(poly)} points: {pts}", None))
        rows.append((f"Area {i + 1} visits", int(r.area_visits[i]), COUNT))
        rows.append((f"Area {i + 1} dwell time (s)", round(float(r.area_dwell[i]), 3), SECONDS))
    if not lay.regions:
        rows.append(("Areas", "none drawn: nothing is counted", None))
    head = 3
    for col, text in ((1, "Item"), (2, "Value")):
        c = ws.cell(head, col, text)
        c.font, c.fill, c.border = _BOLD, _HEADER_FILL, _TABLE_BORDER
    wrap = Alignment(horizontal="left", vertical="top", wrap_text=True)
    for n, (label, value, fmt) in enumerate(rows, start=head + 1):
        a = ws.cell(n, 1, label)
        a.font, a.alignment, a.border = _BOLD, wrap, _TABLE_BORDER
        b = ws.cell(n, 2, value)
        b.alignment, b.border = wrap, _TABLE_BORDER
        if fmt:
            b.number_format = fmt
    widths = {"A": 36, "B": 44}
    for col, width in widths.items():
        ws.column_dimensions[col].width = width
    ws.column_dimensions["C"].width = 2
    # Wrapped cells do not grow their rows in every reader: set the heights.
    for n, (label, value, fmt) in enumerate(rows, start=head + 1):
        # Bold labels run about a width unit a character; values fit a quarter more.
        lines = max(_lines(label, widths["A"] - 1), 1 if fmt else _lines(str(value or ""), widths["B"] * 1.25))
        if lines > 1:
            ws.row_dimensions[n].height = LINE_HEIGHT_PT * lines
    ws.freeze_panes = ws.cell(head + 1, 1)
    ws.print_title_rows = f"{head}:{head}"
    _print_setup(ws, r, pages_tall=1)
    if picture is not None:
        img = SheetImage(io.BytesIO(picture))
        ratio = img.height / img.width
        img.width, img.height = PICTURE_WIDTH_PX, round(PICTURE_WIDTH_PX * ratio)
        ws.add_image(img, f"D{head}")


def _lines(text: str, width: float) -> int:
    """Lines `text` wraps to in a column `width` characters wide (word wrap)."""
    lines, used = 1, 0
    for word in text.split():
        if used and used + 1 + len(word) > width:
            lines, used = lines + 1, len(word)
        else:
            used += len(word) + (1 if used else 0)
    return lines


# --------------------------------------------------------------------------- time heat map

def _time_sheet(ws, r: Report) -> None:
    headers = ("Bucket", "From", "To", "Visits", "Dwell time (s)", "Average dwell per visit (s)",
               "Hours with data", "Note")
    for col, h in enumerate(headers, start=1):
        c = ws.cell(1, col, h)
        c.font, c.fill = _BOLD, _HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="center")
    for n, b in enumerate(r.buckets, start=2):
        ws.cell(n, 1, _bucket_label(r, b.start))
        ws.cell(n, 2, b.start).number_format = DATE if r.report_type == "daily" else DAY
        ws.cell(n, 3, b.end).number_format = DATE if r.report_type == "daily" else DAY
        ws.cell(n, 7, b.hours_with_data).number_format = COUNT
        if not b.has_data:
            ws.cell(n, 8, "no data")
            continue
        ws.cell(n, 4, b.visits).number_format = COUNT
        ws.cell(n, 5, round(b.dwell_seconds, 3)).number_format = SECONDS
        if b.average_dwell is not None:
            ws.cell(n, 6, round(b.average_dwell, 3)).number_format = SECONDS
    last = len(r.buckets) + 1
    total = last + 1
    ws.cell(total, 1, "Total").font = _BOLD
    ws.cell(total, 4, r.visits_total).number_format = COUNT
    ws.cell(total, 5, round(r.dwell_total, 3)).number_format = SECONDS
    if r.average_dwell is not None:
        ws.cell(total, 6, round(r.average_dwell, 3)).number_format = SECONDS
    ws.cell(total, 7, r.hours_with_data).number_format = COUNT
    for col in range(4, 8):
        ws.cell(total, col).font = _BOLD
    biggest = max([r.visits_total, r.dwell_total, 1])
    number_width = len(f"{biggest:,.1f}") + 3
    date_width = 17 if r.report_type == "daily" else 11
    for col, width in zip("ABCDEFGH", (12, date_width, date_width, max(9, number_width), max(12, number_width),
                                       14, 9, 9)):
        ws.column_dimensions[col].width = width
    ws.row_dimensions[1].height = 30  # two lines of the wrapped headers
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    _print_setup(ws, r, pages_tall=1)
    ws.add_chart(_chart(ws, r, last), f"A{total + 2}")


def _chart(ws, r: Report, last: int) -> BarChart:
    """Visits as bars on the left axis, dwell as a line on the right axis, both from zero.

    Two axes because their magnitudes differ by orders: on one axis the
    visits would be flat. Axes start at zero so a 1 % change looks like 1 %;
    the line is straight (a smoothed line overshoots between buckets) and has
    markers, so a report with one bucket of data still shows its point."""
    per = {"daily": "hour", "annual": "month"}.get(r.report_type, "day")
    bars = BarChart()
    bars.title = f"{r.channel_name}: visits and dwell time per {per}, {r.period_label}"
    bars.y_axis.title = "Visits"
    bars.y_axis.scaling.min = 0
    bars.y_axis.number_format = COUNT
    bars.add_data(Reference(ws, min_col=4, min_row=1, max_row=last), titles_from_data=True)
    cats = Reference(ws, min_col=1, min_row=2, max_row=last)
    bars.set_categories(cats)
    bars.gapWidth = 60
    line = LineChart()
    line.add_data(Reference(ws, min_col=5, min_row=1, max_row=last), titles_from_data=True)
    line.set_categories(cats)
    for s in line.series:
        s.smooth = False
        s.marker.symbol = "circle"
        s.marker.size = 5
        s.graphicalProperties.line.width = 22000  # EMU: about 1.7 pt
    line.y_axis.axId = 200
    line.y_axis.title = "Dwell time (s)"
    line.y_axis.scaling.min = 0
    line.y_axis.number_format = COUNT
    line.y_axis.crosses = "max"
    line.y_axis.majorGridlines = None  # the visits axis draws the grid
    for axis in (bars.x_axis, bars.y_axis, line.y_axis):
        axis.delete = False  # openpyxl 3.1 hides axes unless told otherwise
    bars += line
    bars.display_blanks = "gap"
    bars.legend.position = "b"
    bars.width = _width_cm(ws, "ABCDEFGH")
    bars.height = CHART_HEIGHT_CM
    return bars


# --------------------------------------------------------------------------- space heat map

def _fills(scale: HeatScale) -> list[PatternFill]:
    """FILL_STEPS pale fills along the picture's colour ramp."""
    out = []
    for k in range(FILL_STEPS):
        rgb = colormap(np.array(k / (FILL_STEPS - 1))) * (1 - PALE) + 255 * PALE
        out.append(PatternFill("solid", start_color="FF" + "".join(f"{int(round(v)):02X}" for v in rgb)))
    return out


def _space_sheet(ws, r: Report) -> None:
    grids = [("dwell", r.dwell, "Dwell time (s) per cell", GRID_SECONDS),
             ("people", r.visits, "Visits per cell", GRID_COUNT)]
    grids.sort(key=lambda g: g[0] != r.model)  # the chosen model first
    lay = r.layout
    rows, cols = r.matrix.shape
    inside = in_area_cells(lay.regions, lay.grid_rows, lay.grid_columns, lay.analysis_height, lay.analysis_width)
    top = 1
    widest = 1
    cell_rows: list[int] = []
    for model, grid, title, fmt in grids:
        scale = heat_scale(grid, inside, model)
        fills = _fills(scale)
        levels = scale.levels(np.where(inside, grid, 0))
        ws.cell(top, 1, f"{title} - {r.channel_name}, {r.report_type} report {r.period_label}").font = _BOLD
        ws.cell(top + 1, 1, f"max {grid.max():,.1f}; colours: {scale_description(scale, model)}; "
                            "grey: outside the areas; row 1 is the top of the picture").font = Font(size=8)
        head = top + 2
        for c in range(cols):
            ws.cell(head, c + 2, c + 1).font = _GRID_HEAD
        for rr in range(rows):
            cell_rows.append(head + 1 + rr)
            ws.cell(head + 1 + rr, 1, rr + 1).font = _GRID_HEAD
            for c in range(cols):
                v = grid[rr, c]
                value = int(v) if fmt == GRID_COUNT else round(float(v), 1)
                cell = ws.cell(head + 1 + rr, c + 2, value)
                cell.number_format = fmt
                if not inside[rr, c]:
                    cell.fill, cell.font = _OUTSIDE_FILL, _OUTSIDE_FONT
                    continue
                cell.font = _GRID_FONT
                t = levels[rr, c]
                if not math.isnan(t):
                    cell.fill = fills[int(round(t * (FILL_STEPS - 1)))]
        widest = max(widest, _widest(grid, fmt))
        end = head + rows
        if model == grids[0][0]:
            ws.row_breaks.append(Break(id=end + 1))  # each grid on a page of its own
        top = end + 2
    ws.column_dimensions["A"].width = 3.5
    # 7-point digits are about 0.7 of a width unit; one unit of padding.
    width = max(3.0, round(widest * 0.72 + 1.2, 1))
    for c in range(cols):
        ws.column_dimensions[get_column_letter(c + 2)].width = width
    # Square cells, so the printed grid has the picture's shape.
    square_pt = (width * 7 + 5) * 0.75
    for row in cell_rows:
        ws.row_dimensions[row].height = square_pt
    ws.freeze_panes = "B4"
    ws.print_title_cols = "A:A"
    _print_setup(ws, r, pages_tall=None)


def _widest(grid: np.ndarray, fmt: str) -> int:
    """Characters of the longest number as `fmt` shows it."""
    top = float(grid.max()) if grid.size else 0.0
    if fmt == GRID_COUNT:
        return len(f"{int(top):,}")
    return max(4, len(f"{round(top):,}"))  # "99.9" below 100
