"""Heat-map reports (the seed's Counting): one channel, one period, from the statistics store.

Periods follow the selected date on the appliance clock, half-open [start, end):
daily = that day in 24 hourly buckets; weekly = the Monday-to-Sunday week
containing it in 7 daily buckets; monthly = its calendar month, one bucket per
day; annual = its calendar year in 12 monthly buckets.

A report holds the space heat map (visits and dwell grids summed over the
period, under the layout in force at the end of the period; hours that ended
under another layout are left out of the grids and counted in
`excluded_hours`, and so is, from the grids only, the part of an hour before
its areas were redrawn), the time heat map (per bucket: visits, dwell, average dwell
per visit, and whether any hour of it was analysed), totals over every hour,
and the channel's name, areas and parameters. A bucket without analysed time
has `has_data` false and no numbers, never zeros.

The statistical model (`dwell` or `people`) picks which grid is the picture
and the matrix (`Report.matrix`); both grids are always in the report.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from firmware.clock import date_problem, from_clock, to_clock
from firmware.migrations import DWELL_UNITS
from firmware.stats import Layout
from firmware.store import SqliteStatistics
from vca.params import PARAMETER_KEYS

REPORT_TYPES = ("daily", "weekly", "monthly", "annual")
MODELS = ("dwell", "people")
# As the vendor's how-to names them (console, web page).
REPORT_LABELS = dict(zip(REPORT_TYPES, ("Daily Report", "Weekly Report", "Monthly Report", "Annual Report")))
MODEL_LABELS = {"people": "People (visits)", "dwell": "Dwell (time stayed)"}


class ReportError(ValueError):
    """A report that cannot be made (no such channel, no data); one line for the user."""


@dataclass(slots=True)
class Bucket:
    start: datetime
    end: datetime
    visits: int = 0
    dwell_seconds: float = 0.0
    analysed_seconds: float = 0.0
    hours_with_data: int = 0

    @property
    def has_data(self) -> bool:
        return self.analysed_seconds > 0

    @property
    def average_dwell(self) -> float | None:
        """Seconds of dwell per visit, None without visits."""
        return self.dwell_seconds / self.visits if self.visits else None


@dataclass(slots=True)
class Report:
    channel: int
    channel_name: str
    report_type: str
    model: str
    start: datetime
    end: datetime
    layout: Layout
    visits: np.ndarray          # int64 (grid_rows, grid_columns), layout at the end of the period
    dwell: np.ndarray           # float64 seconds, same shape
    area_visits: np.ndarray     # int64 (n_areas,), same hours as the grids
    area_dwell: np.ndarray      # float64 seconds
    buckets: list[Bucket]
    visits_total: int           # every hour of the period, whatever its layout
    dwell_total: float
    analysed_seconds: float
    scene_changes: int
    hours_with_data: int
    excluded_hours: int         # hours with data that ended under another layout (left out of the grids)
    generated: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))
    lost_layout_hours: int = 0  # of excluded_hours, those under a layout the store lost (migration m004)

    @property
    def matrix(self) -> np.ndarray:
        """The grid the chosen model shows: dwell seconds or people (visits)."""
        return self.dwell if self.model == "dwell" else self.visits

    @property
    def unit(self) -> str:
        return "seconds of dwell" if self.model == "dwell" else "visits"

    @property
    def average_dwell(self) -> float | None:
        return self.dwell_total / self.visits_total if self.visits_total else None

    @property
    def period_label(self) -> str:
        """The period as people say it: 2026-11-24, 2026-11-23 to 2026-11-29, November 2026, 2026."""
        if self.report_type == "daily":
            return f"{self.start:%Y-%m-%d}"
        if self.report_type == "weekly":
            return f"{self.start:%Y-%m-%d} to {self.end - timedelta(days=1):%Y-%m-%d}"
        if self.report_type == "monthly":
            return f"{self.start:%B %Y}"
        return f"{self.start:%Y}"

    @property
    def parameters(self) -> dict[str, int]:
        return dict(zip(PARAMETER_KEYS, self.layout.params))


def period(report_type: str, day: date) -> tuple[datetime, datetime, list[tuple[datetime, datetime]]]:
    """(start, end, buckets) of the report of `report_type` for the selected date."""
    if problem := date_problem(day):
        raise ReportError(f"date {problem}")
    d0 = datetime(day.year, day.month, day.day)
    if report_type == "daily":
        edges = [d0 + timedelta(hours=h) for h in range(25)]
    elif report_type == "weekly":
        monday = d0 - timedelta(days=d0.weekday())
        edges = [monday + timedelta(days=i) for i in range(8)]
    elif report_type == "monthly":
        first = d0.replace(day=1)
        n = calendar.monthrange(day.year, day.month)[1]
        edges = [first + timedelta(days=i) for i in range(n + 1)]
    elif report_type == "annual":
        edges = [datetime(day.year, m, 1) for m in range(1, 13)] + [datetime(day.year + 1, 1, 1)]
    else:
        raise ReportError(f"report type {report_type!r} is not one of {', '.join(REPORT_TYPES)}")
    return edges[0], edges[-1], list(zip(edges[:-1], edges[1:]))


def build_report(
    store: SqliteStatistics, channel: int, report_type: str, day: date, model: str = "dwell"
) -> Report:
    """Run the statistics for one channel and period. Raises ReportError."""
    if model not in MODELS:
        raise ReportError(f"model {model!r} is not one of {', '.join(MODELS)}")
    start, end, spans = period(report_type, day)
    names = store.channel_names()
    if channel not in names:
        known = ", ".join(str(c) for c in names) or "none yet"
        raise ReportError(f"no channel {channel} in the statistics (channels: {known})")
    t0, t1 = int(to_clock(start)), int(to_clock(end))
    rows, layout_id = store.period(channel, t0, t1, "hour" if report_type == "daily" else "day")
    if not any(r.analysed_seconds > 0 for r in rows):
        raise ReportError(_no_data(store, channel, report_type, start, end))
    lost = store.lost_layouts()
    if layout_id is None:  # every hour with data is under a lost layout: no grid to draw
        raise ReportError(
            f"channel {channel}: the layout (grid and areas) of every hour of this {report_type} report is "
            f"missing from the store (written by an older firmware on a full disk); visits "
            f"{sum(r.visits_total for r in rows):,}, dwell {sum(r.dwell_total for r in rows):,.1f} s; "
            "see `nvr store check`")
    layout = store.layout(layout_id)

    buckets = [Bucket(a, b) for a, b in spans]
    bounds = np.array([to_clock(b.end) for b in buckets])
    shape = (layout.grid_rows, layout.grid_columns)
    visits = np.zeros(shape[0] * shape[1], np.int64)
    dwell_cs = np.zeros_like(visits)
    area_visits = np.zeros(len(layout.regions), np.int64)
    area_dwell_cs = np.zeros_like(area_visits)
    excluded = lost_hours = 0
    for r in rows:
        b = buckets[int(np.searchsorted(bounds, r.start, side="right"))]
        b.visits += r.visits_total
        b.dwell_seconds += r.dwell_total
        b.analysed_seconds += r.analysed_seconds
        b.hours_with_data += r.hours_with_data
        if r.layout_id != layout_id:
            excluded += r.hours_with_data
            lost_hours += r.hours_with_data if r.layout_id in lost else 0
            continue
        visits += r.visits()
        dwell_cs += r.dwell_cs()
        area_visits += r.area_visits()
        area_dwell_cs += r.area_dwell_cs()

    return Report(
        channel=channel,
        channel_name=names[channel],
        report_type=report_type,
        model=model,
        start=start,
        end=end,
        layout=layout,
        visits=visits.reshape(shape),
        dwell=(dwell_cs / DWELL_UNITS).reshape(shape),
        area_visits=area_visits,
        area_dwell=area_dwell_cs / DWELL_UNITS,
        buckets=buckets,
        visits_total=sum(b.visits for b in buckets),
        dwell_total=sum(b.dwell_seconds for b in buckets),
        analysed_seconds=sum(b.analysed_seconds for b in buckets),
        scene_changes=sum(r.scene_changes for r in rows),
        hours_with_data=sum(b.hours_with_data for b in buckets),
        excluded_hours=excluded,
        lost_layout_hours=lost_hours,
    )


def _no_data(store: SqliteStatistics, channel: int, report_type: str, start: datetime, end: datetime) -> str:
    span = store.data_span(channel)
    last = end - timedelta(days=1)
    days = f"{start:%Y-%m-%d}" if last == start else f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"
    what = f"channel {channel} has no statistics for the {report_type} report of {days}"
    if span is None:
        return f"{what} (it has none at all yet)"
    first, last = from_clock(span[0]), from_clock(span[1] - 1)
    return f"{what}; pick a date between {first:%Y-%m-%d} and {last:%Y-%m-%d}"


def _num(x: float) -> float:
    return round(float(x), 3)


def report_to_json(report: Report) -> dict[str, Any]:
    """The report as `nvr report --json` prints it: the documented top-level keys plus `details`.

    `details.scale` is the colour scale of the chosen grid (`firmware.heat_scale`)
    with each cell's level (0..1, null: zero or outside the areas), so a front end
    colours cells exactly as the picture and the workbook do; `details.in_area`
    marks the cells inside the areas (1) and outside (0).
    """
    from firmware.heat_scale import report_scale

    r = report
    lay = r.layout
    scale, cells = report_scale(r)
    levels = scale.levels(np.where(cells, r.matrix, 0))
    return {
        "channel": r.channel,
        "report_type": r.report_type,
        "model": r.model,
        "period": {"start": r.start.isoformat(), "end": r.end.isoformat()},
        "grid": {"rows": lay.grid_rows, "columns": lay.grid_columns},
        "visits": r.visits.tolist(),
        "dwell_seconds": np.round(r.dwell, 3).tolist(),
        "buckets": [
            {
                "start": b.start.isoformat(),
                "end": b.end.isoformat(),
                # No data is null, not 0: nothing was watched, which is not "nobody came".
                "visits": b.visits if b.has_data else None,
                "dwell_seconds": _num(b.dwell_seconds) if b.has_data else None,
                "has_data": b.has_data,
                "average_dwell_seconds": None if b.average_dwell is None or not b.has_data else _num(b.average_dwell),
                "hours_with_data": b.hours_with_data,
            }
            for b in r.buckets
        ],
        "totals": {
            "visits": r.visits_total,
            "dwell_seconds": _num(r.dwell_total),
            "average_dwell_seconds": None if r.average_dwell is None else _num(r.average_dwell),
            "analysed_seconds": _num(r.analysed_seconds),
            "scene_changes": r.scene_changes,
            "hours_with_data": r.hours_with_data,
        },
        "details": {
            "channel_name": r.channel_name,
            "generated": r.generated.isoformat(),
            "areas": [
                {"area": i + 1, "points": [list(p) for p in poly], "visits": int(r.area_visits[i]),
                 "dwell_seconds": _num(r.area_dwell[i])}
                for i, poly in enumerate(lay.regions)
            ],
            "parameters": r.parameters,
            "source_size": [lay.source_width, lay.source_height],
            "analysis_size": [lay.analysis_width, lay.analysis_height],
            "excluded_hours": r.excluded_hours,
            "lost_layout_hours": r.lost_layout_hours,
            "visits_max": int(r.visits.max()),
            "visits_min": int(r.visits.min()),
            "dwell_max_seconds": _num(r.dwell.max()),
            "dwell_min_seconds": _num(r.dwell.min()),
            "scale": {**scale.to_json(r.model), "model": r.model,
                      "levels": [[None if np.isnan(v) else round(float(v), 4) for v in row] for row in levels]},
            "in_area": cells.astype(int).tolist(),
        },
    }
