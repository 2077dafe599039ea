"""`nvr demo`: a simulated day on the shipped sample channels, the daily reports, then the web page.

This is what `make demo` runs. It boots the appliance on the demo
configuration (web server on, its URL printed at boot) at full speed from
midnight to midnight of yesterday's date (appliance clock), then exports a
daily report (xlsx + png) for every analysed channel into `<out>/export`
and says where the reports and the statistics are. Run from a terminal it
then keeps the appliance up, the page served on the replayed statistics,
until Ctrl-C; run without one (scripts, CI) it stops there.

The configuration and its sample channels are package data (`nvr/demo_data`,
links to `data/demo.yaml` and `data/samples/substream` in the repository),
so the demo runs from any install, editable or not.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import socket
import sys
from pathlib import Path

from firmware.clock import CLOCK_END, DAY, ClockError, check_run, date_problem, to_clock
from firmware.config import ConfigError, load_config
from firmware.service import FrontEndError, ServiceError
from nvr.cli import UserError, bounded
from nvr.commands.run import front_ends

# Not resolved: the links' own folder is where the configuration's relative sources are.
DEMO_CONFIG = Path(__file__).parents[1] / "demo_data" / "demo.yaml"


def add_parser(sub):
    p = sub.add_parser("demo", help="replay a simulated day on the sample channels and export reports")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for state and exports")
    p.add_argument("--config", type=Path, default=DEMO_CONFIG, help="channels to replay")
    p.add_argument("--date", help="the simulated day, YYYY-MM-DD (default: yesterday)")
    p.add_argument("--duration", type=bounded(float, 1, CLOCK_END, " s"), default=DAY,
                   help="appliance seconds to replay")
    p.set_defaults(func=run)


def run(args) -> int:
    from firmware.appliance import Appliance, RunOptions  # numba and PyAV load only when needed
    from firmware.store import StoreError
    from web.server import WebFrontEnd

    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.date.today() - dt.timedelta(days=1)
    except ValueError:
        raise UserError(f"--date: {args.date[:40]!r} is not a date such as 2026-11-23") from None
    if problem := date_problem(day):
        raise UserError(f"--date: {problem}")
    try:
        check_run(to_clock(dt.datetime.combine(day, dt.time())), args.duration)
    except ClockError as e:
        raise UserError(str(e)) from None
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
    config = _free_web_port(config)
    appliance = Appliance(config, RunOptions(state_dir=state, speed="max", start=start, duration=args.duration),
                          front_ends=front_ends(config))
    appliance.install_signal_handlers()
    try:
        try:
            appliance.boot()
        except (ConfigError, FrontEndError, StoreError) as e:
            raise UserError(str(e)) from None
        appliance.run()
        if appliance.interrupted:
            return 130
        _export(appliance.service(), config, day, export)
        print(f"its statistics are in {state}; another report, e.g.:")
        print(f"  nvr report --state-dir {state} --channel 2 --type daily --date {day.isoformat()} --model people "
              f"--export {export}", flush=True)
        web = next((f for f in appliance.front_ends if isinstance(f, WebFrontEnd)), None)
        if web is not None and sys.stdin.isatty() and sys.stdout.isatty():
            print(f"The replayed day is on the web page: {web.url} (activate the device with a password of "
                  "your choice, then VCA Search > Heat Map). Ctrl-C ends the demo.", flush=True)
            appliance.stop_event.wait()
    finally:
        appliance.shutdown()
    return 0


def _export(service, config, day: dt.date, export: Path) -> None:
    """The seed's Export for every analysed channel, through the service the console uses."""
    written: list[Path] = []
    for ch in config.channels:
        if not ch.heat_map.enabled:
            continue
        try:
            written += service.export(ch.id, "daily", day, "dwell")
        except ServiceError as e:
            print(f"channel {ch.id}: no report: {e}")
    for path in written:
        print(f"exported {path.name}")
    print(f"demo reports for {day.isoformat()} are in {export}", flush=True)


def _free_web_port(config):
    """The demo's web port, or any free one when it is taken (another demo, another server)."""
    web = config.appliance.web
    if web.port is None:
        return config
    with socket.socket() as s:
        try:
            s.bind((web.bind, web.port))
            return config
        except OSError:
            print(f"web port {web.port} is in use; serving the page on a free port instead", flush=True)
    return dataclasses.replace(config, appliance=dataclasses.replace(
        config.appliance, web=dataclasses.replace(web, port=0)))
