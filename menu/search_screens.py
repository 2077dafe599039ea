"""VCA Search > Heat Map: the seed's "check heat map performance" steps 1-6.

Select the camera, the report type, the statistics time and the model, then
Counting shows the report the service computes (the same dict `nvr report
--json` prints) and Export writes it to the export device. Nothing is
computed here: the screen only draws what the service returns.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from firmware.service import MODEL_LABELS, REPORT_LABELS, ServiceError
from menu import render
from menu.config_screens import channel_options
from menu.forms import LEAVE, Console, Item, Menu


@dataclass
class Query:
    channel_id: int
    name: str
    report_type: str
    date: dt.date
    model: str


def heat_map_search(console: Console, _state=None) -> None:
    """Step 2: select the camera; then its report screen."""
    while True:
        channel_id = console.choose("Heat Map: Select Camera", channel_options(console))
        if channel_id is None:
            return
        name = next((s.name for s in console.service.channels() if s.id == channel_id), f"Camera {channel_id}")
        today = console.service.now().date()
        console.run_menu(REPORT_MENU, Query(channel_id, name, "daily", today, "people"))


def _pick(attribute: str, title: str, labels: dict[str, str]):
    """A submenu that sets `attribute` of the query and returns to the report screen."""

    def set_to(value: str):
        def run(console: Console, q: Query):
            setattr(q, attribute, value)
            return LEAVE

        return Item(labels[value], run)

    menu = Menu(title=title, items=tuple(set_to(v) for v in labels))
    return lambda console, q: console.run_menu(menu, q)


def _statistics_time(console: Console, q: Query) -> None:
    q.date = console.ask_date("Statistics Time", q.date)


def _counting(console: Console, q: Query) -> None:
    try:
        report = console.service.count(q.channel_id, q.report_type, q.date, q.model)
    except ServiceError as e:
        console.say(f"No report: {e}")
        return
    for line in report_lines(report, q, console.color):
        console.say(line)


def report_lines(report: dict[str, Any], q: Query, color: bool) -> list[str]:
    period = report.get("period", {})
    start, end = period.get("start", "?"), period.get("end", "?")
    lines = [
        f"{REPORT_LABELS.get(report.get('report_type'), '?')}: {q.name} (channel {q.channel_id}), "
        f"model {report.get('model')}",
        f"Period {start.replace('T', ' ')[:16]} to {end.replace('T', ' ')[:16]}",
        "-- Time heat map --",
        *render.time_table_lines(report),
    ]
    totals = report.get("totals", {})
    lines.append(f"Totals: visits {totals.get('visits', 0)}, dwell {render.seconds(totals.get('dwell_seconds') or 0)} s")
    if report.get("model") == "dwell":
        grid, unit = report.get("dwell_seconds"), "s dwell"
    else:
        grid, unit = report.get("visits"), "visits"
    lines.append("-- Space heat map (top of the picture first) --")
    lines.extend(render.heat_map_lines(grid, color, unit, report.get("details", {}).get("scale")))
    return lines


def _export(console: Console, q: Query) -> None:
    try:
        files = console.service.export(q.channel_id, q.report_type, q.date, q.model)
    except ServiceError as e:
        console.say(f"Export failed: {e}")
        return
    console.say("Exported:")
    for f in files:
        console.say(f"  {f}")


REPORT_MENU = Menu(
    title=lambda q: f"Heat Map: {q.name} (channel {q.channel_id})",
    items=(
        Item(lambda q: f"Report Type ({REPORT_LABELS[q.report_type]})",
             _pick("report_type", "Report Type", REPORT_LABELS)),
        Item(lambda q: f"Statistics Time ({q.date.isoformat()})", _statistics_time),
        Item(lambda q: f"Statistical Model ({q.model})", _pick("model", "Statistical Model", MODEL_LABELS)),
        Item("Counting", _counting),
        Item("Export", _export),
    ),
)
