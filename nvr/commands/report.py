"""`nvr report`: the seed's Counting and Export from the command line.

Reads the statistics store in `--state-dir` (the appliance may be running:
SQLite's WAL lets it keep writing while we read), builds the report and
writes JSON, xlsx and/or png; without an output option it prints a short
summary with the per-bucket table.
"""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from nvr.cli import UserError, bounded
from firmware.clock import date_problem
from firmware.config import MAX_CHANNELS
from firmware.reports import MODELS, REPORT_TYPES, Report, ReportError, build_report, report_to_json


def add_parser(sub):
    p = sub.add_parser(
        "report",
        help="heat-map report of one channel (daily, weekly, monthly, annual)",
        description="Count the heat-map statistics of one channel for a period and export them.",
    )
    p.add_argument("--state-dir", required=True, type=Path, help="the appliance's state directory")
    p.add_argument("--channel", required=True, type=bounded(int, 1, MAX_CHANNELS), help="channel id")
    p.add_argument("--type", required=True, choices=REPORT_TYPES, dest="report_type", help="report type")
    p.add_argument("--date", required=True, help="a date in the period, YYYY-MM-DD")
    p.add_argument("--model", choices=MODELS, default="dwell", help="statistical model (default: dwell)")
    p.add_argument("--xlsx", type=Path, metavar="FILE", help="write the Excel report here")
    p.add_argument("--png", type=Path, metavar="FILE", help="write the heat-map picture here")
    p.add_argument("--export", type=Path, metavar="DIR",
                   help="write xlsx and png under their default names into DIR (the export device)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON here ('-' for standard output)")
    p.set_defaults(func=run)


def run(args) -> int:
    from firmware.export import ExportError, export_png, export_report, export_xlsx
    from firmware.store import SqliteStatistics, StoreError

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise UserError(f"--date: {args.date[:40]!r} is not a date like 2026-11-24") from None
    if problem := date_problem(day):
        raise UserError(f"--date: {problem}")
    try:
        store = SqliteStatistics(args.state_dir, create=False)
    except StoreError as e:
        raise UserError(str(e)) from None
    try:
        report = build_report(store, args.channel, args.report_type, day, args.model)
        snapshot = store.background(args.channel) if (args.xlsx or args.png or args.export) else None
    except ReportError as e:
        raise UserError(str(e)) from None
    finally:
        store.close()
    background = None if snapshot is None else snapshot[1]

    written: list[Path] = []
    try:
        if args.xlsx:
            written.append(export_xlsx(report, args.xlsx, background))
        if args.png:
            written.append(export_png(report, args.png, background))
        if args.export:
            written += export_report(report, args.export, background)
    except ExportError as e:
        raise UserError(str(e)) from None
    if args.json:
        text = json.dumps(report_to_json(report), indent=1)
        if args.json == "-":
            print(text)
        else:
            try:
                Path(args.json).write_text(text + "\n", encoding="utf-8")
            except OSError as e:
                raise UserError(f"--json: cannot write {args.json}: {e.strerror}") from None
            written.append(Path(args.json))
    for path in written:
        print(f"wrote {path}", file=sys.stderr if args.json == "-" else sys.stdout)
    if not (args.xlsx or args.png or args.export or args.json):
        print(summary(report))
    return 0


def summary(r: Report) -> str:
    """A few lines for a terminal: what, totals, then one line per bucket."""
    avg = "-" if r.average_dwell is None else f"{r.average_dwell:.1f} s"
    out = [
        f"{r.channel_name} (channel {r.channel}): {r.report_type} report {r.period_label}, model {r.model}",
        f"visits {r.visits_total:,}  dwell {r.dwell_total:,.1f} s  average dwell per visit {avg}"
        f"  hours with data {r.hours_with_data}",
    ]
    if r.excluded_hours - r.lost_layout_hours:
        out.append(f"{r.excluded_hours - r.lost_layout_hours} hours under an older grid or area are left out "
                   "of the space heat map")
    if r.lost_layout_hours:
        out.append(f"{r.lost_layout_hours} hours whose layout the store lost (older firmware, full disk) are "
                   "left out of the space heat map; they count in the totals")
    out.append(f"{'from':<17} {'visits':>9} {'dwell s':>12} {'avg s':>8}")
    for b in r.buckets:
        when = f"{b.start:%Y-%m-%d %H:%M}"
        if not b.has_data:
            out.append(f"{when:<17} {'no data':>9}")
            continue
        avg_b = "-" if b.average_dwell is None else f"{b.average_dwell:.1f}"
        out.append(f"{when:<17} {b.visits:>9,} {b.dwell_seconds:>12,.1f} {avg_b:>8}")
    return "\n".join(out)
