"""The report as an Excel workbook a store manager can read without the manual.

Three sheets: Summary (camera, period, type, model, totals, areas,
parameters, when generated), Time heat map (one row per bucket with real
date cells and a native chart of visits and dwell), Space heat map (the
chosen model's grid as numbers under a blue-yellow-red colour scale, then
the other model's grid the same way). Buckets without analysed time read
"no data", with empty number cells, so a chart shows a gap rather than a 0.
"""
from __future__ import annotations

import io
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from firmware.reports import Report

DATE = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"
SECONDS = "#,##0.0"
COUNT = "#,##0"
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", start_color="DDE4EE")
# Same colour order as the picture: least blue, middle yellow, most red.
_SCALE = dict(
    start_type="min", start_color="FF2B50C8",
    mid_type="percentile", mid_value=50, mid_color="FFF7E15A",
    end_type="max", end_color="FFD7301F",
)


def write_xlsx(report: Report, out: BinaryIO) -> None:
    wb = Workbook()
    _summary(wb.active, report)
    _time_sheet(wb.create_sheet("Time heat map"), report)
    _space_sheet(wb.create_sheet("Space heat map"), report)
    # Build in memory, then one write: openpyxl's zip writer left half-closed on a
    # full device would complain at garbage collection; a report is well under 1 MB.
    buf = io.BytesIO()
    wb.save(buf)
    out.write(buf.getvalue())


def _bucket_label(report: Report, start) -> str:
    if report.report_type == "daily":
        return f"{start:%H:%M}"
    if report.report_type == "annual":
        return f"{start:%b %Y}"
    return f"{start:%a %d %b}"


def _summary(ws, r: Report) -> None:
    ws.title = "Summary"
    ws["A1"] = f"Heat map report - {r.channel_name}"
    ws["A1"].font = Font(bold=True, size=14)
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
        ("Grid (rows x columns)", f"{r.layout.grid_rows} x {r.layout.grid_columns}", None),
        ("Generated", r.generated, DATE),
    ]
    rows += [(f"Parameter: {k.replace('_', ' ')}", v, COUNT) for k, v in r.parameters.items()]
    for i, poly in enumerate(r.layout.regions):
        pts = " ".join(f"({x:.3f}, {y:.3f})" for x, y in poly)
        rows.append((f"Area {i + 1}", f"{len(poly)} points: {pts}", None))
        rows.append((f"Area {i + 1} visits", int(r.area_visits[i]), COUNT))
        rows.append((f"Area {i + 1} dwell time (s)", round(float(r.area_dwell[i]), 3), SECONDS))
    if not r.layout.regions:
        rows.append(("Areas", "whole picture (no area drawn)", None))
    for n, (label, value, fmt) in enumerate(rows, start=3):
        ws.cell(n, 1, label).font = _BOLD
        c = ws.cell(n, 2, value)
        c.alignment = Alignment(horizontal="left")
        if fmt:
            c.number_format = fmt
    ws.column_dimensions["A"].width = 52
    ws.column_dimensions["B"].width = 60


def _time_sheet(ws, r: Report) -> None:
    headers = ("Bucket", "From", "To", "Visits", "Dwell time (s)", "Average dwell per visit (s)",
               "Hours with data", "Note")
    for col, h in enumerate(headers, start=1):
        c = ws.cell(1, col, h)
        c.font, c.fill = _BOLD, _HEADER_FILL
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
    for col, width in zip("ABCDEFGH", (12, 17, 17, 10, 15, 26, 15, 10)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"

    # Visits as bars on the left axis, dwell as a line on a right-hand axis: their
    # magnitudes differ by orders, one axis would flatten the visits.
    bars = BarChart()
    bars.title = f"{r.channel_name}: visits and dwell per {'hour' if r.report_type == 'daily' else 'day' if r.report_type != 'annual' else 'month'}"
    bars.y_axis.title = "Visits"
    bars.add_data(Reference(ws, min_col=4, min_row=1, max_row=last), titles_from_data=True)
    cats = Reference(ws, min_col=1, min_row=2, max_row=last)
    bars.set_categories(cats)
    line = LineChart()
    line.add_data(Reference(ws, min_col=5, min_row=1, max_row=last), titles_from_data=True)
    line.set_categories(cats)
    line.y_axis.axId = 200
    line.y_axis.title = "Dwell time (s)"
    line.y_axis.crosses = "max"
    bars += line
    bars.width, bars.height = 24, 10
    ws.add_chart(bars, "J2")


def _space_sheet(ws, r: Report) -> None:
    grids = [("dwell", r.dwell, "Dwell time (s) per cell", SECONDS), ("people", r.visits, "Visits per cell", COUNT)]
    grids.sort(key=lambda g: g[0] != r.model)  # the chosen model first
    rows, cols = r.matrix.shape
    top = 1
    for _model, grid, title, fmt in grids:
        ws.cell(top, 1, f"{title} - {r.channel_name}, {r.report_type} report {r.period_label}").font = _BOLD
        ws.cell(top + 1, 1, f"max {grid.max():,.1f}, min {grid.min():,.1f}; row 1 is the top of the picture")
        head = top + 2
        for c in range(cols):
            ws.cell(head, c + 2, c + 1).font = _BOLD
        for rr in range(rows):
            ws.cell(head + 1 + rr, 1, rr + 1).font = _BOLD
            for c in range(cols):
                v = grid[rr, c]
                cell = ws.cell(head + 1 + rr, c + 2, int(v) if fmt == COUNT else round(float(v), 1))
                cell.number_format = fmt
        area = f"B{head + 1}:{get_column_letter(cols + 1)}{head + rows}"
        ws.conditional_formatting.add(area, ColorScaleRule(**_SCALE))
        top = head + rows + 3
    ws.column_dimensions["A"].width = 5
    for c in range(cols):
        ws.column_dimensions[get_column_letter(c + 2)].width = 6
