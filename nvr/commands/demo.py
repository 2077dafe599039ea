"""`nvr demo`: a simulated day on the shipped sample channels, then the daily reports.

This is what `make demo` runs. It boots the appliance headless on
`data/demo.yaml` at full speed from midnight to midnight of yesterday's date
(appliance clock), then exports a daily report (xlsx + png) for every analysed
channel into `<out>/export`, the folder it names at the end.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

from nvr.cli import UserError
from firmware.clock import DAY, to_clock
from firmware.config import ConfigError, load_config

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "data" / "demo.yaml"


def add_parser(sub):
    p = sub.add_parser("demo", help="replay a simulated day on the sample channels and export reports")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for state and exports")
    p.add_argument("--config", type=Path, default=DEMO_CONFIG, help="channels to replay")
    p.add_argument("--date", help="the simulated day, YYYY-MM-DD (default: yesterday)")
    p.add_argument("--duration", type=float, default=DAY, help="appliance seconds to replay")
    p.set_defaults(func=run)


def run(args) -> int:
    from firmware.appliance import Appliance, RunOptions  # numba and PyAV load only when needed

    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.date.today() - dt.timedelta(days=1)
    except ValueError:
        raise UserError(f"--date: {args.date!r} is not a date such as 2026-11-23") from None
    try:
        config = load_config(args.config)
    except ConfigError as e:
        raise UserError(str(e)) from None
    out = args.out.resolve()
    state, export = out / "state", out / "export"
    # A demo starts from a clean slate so its report covers exactly this run.
    shutil.rmtree(state, ignore_errors=True)
    export.mkdir(parents=True, exist_ok=True)
    config = dataclasses.replace(config, appliance=dataclasses.replace(config.appliance,
                                                                       export_device=str(export)))
    start = to_clock(dt.datetime.combine(day, dt.time()))
    appliance = Appliance(config, RunOptions(state_dir=state, speed="max", start=start,
                                             duration=args.duration))
    appliance.install_signal_handlers()
    try:
        appliance.boot()
        appliance.run()
    finally:
        appliance.shutdown()
    if appliance.interrupted:
        return 130
    # The same engine as `nvr report`, on the store the run left behind.
    from firmware.export import export_report
    from firmware.reports import ReportError, build_report
    from firmware.store import SqliteStatistics

    written: list[Path] = []
    with SqliteStatistics(state, create=False) as store:
        for ch in config.channels:
            if not ch.heat_map.enabled:
                continue
            try:
                report = build_report(store, ch.id, "daily", day, "dwell")
            except ReportError as e:
                print(f"channel {ch.id}: no report: {e}")
                continue
            snapshot = store.background(ch.id)
            written += export_report(report, export, None if snapshot is None else snapshot[1])
    for path in written:
        print(f"exported {path.name}")
    print(f"demo reports for {day.isoformat()} are in {export}")
    return 0
