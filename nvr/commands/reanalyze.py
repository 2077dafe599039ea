"""`nvr reanalyze`: recompute the heat-map statistics of recorded channel-hours from an archive.

    nvr reanalyze --config FILE --state-dir DIR --archive SPEC [--channel N ...]
                  [--from ISO --to ISO] [--scheduler ADDRESS | --workers N] [--json]
                  [--warm-up SECONDS] [--task-span SECONDS] [--engine dask|processes|inline]

Areas and parameters come from --config (validated as `nvr run` does); the
recordings from --archive (a ch<NN>/<YYYY-MM-DD>T<HH-MM-SS>.<ext> directory
or a YAML/CSV manifest, `firmware.archive`). The hours re-analysed replace
what the store in --state-dir held for them (`firmware.reanalyze`).

Without --scheduler the tasks run in a Dask LocalCluster of --workers
processes (default: one per core) on loopback, or, without the `archive`
extra or with --engine processes, in a plain process pool; with --scheduler
tcp://HOST:PORT on that Dask cluster. A progress bar goes to stderr when it
is a terminal, as do lines about skipped files, gaps and overlaps; the
summary table (or --json) goes to stdout. Exit status 0, 1 if a task failed
(its hours are left as they were: run again to retry them), 2 for a user
error, 130 when interrupted by Ctrl-C or SIGTERM (run the same command
again to finish).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import signal
import sys
import time
from pathlib import Path

from firmware.bench.progress import Progress
from nvr.cli import UserError
from firmware.clock import HOUR, format_clock, to_clock

ENGINE_CHOICES = ("dask", "processes", "inline")


def add_parser(sub):
    p = sub.add_parser("reanalyze", help="recompute the statistics of recorded channel-hours from an archive",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, type=Path, help="configuration whose areas and parameters to apply")
    p.add_argument("--state-dir", required=True, type=Path, help="the statistics store to merge into")
    p.add_argument("--archive", required=True, metavar="SPEC",
                   help="directory ch<NN>/<YYYY-MM-DD>T<HH-MM-SS>.<ext>, or a manifest .yaml/.yml/.csv "
                        "(channel, start, path)")
    p.add_argument("--channel", type=int, nargs="+", action="extend", metavar="N",
                   help="channels to re-analyse (default: every configured channel the archive has)")
    p.add_argument("--from", dest="start", metavar="ISO",
                   help="first hour, appliance clock (default: the archive's first recording)")
    p.add_argument("--to", dest="end", metavar="ISO", help="end, exclusive (default: the archive's end)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster of this scheduler (tcp://HOST:PORT)")
    where.add_argument("--workers", type=int, metavar="N", help="worker processes on this box (default: cores)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--warm-up", type=float, default=None, metavar="SECONDS",
                   help="video analysed before each task's span, not counted (default 120)")
    p.add_argument("--task-span", type=int, default=None, metavar="SECONDS",
                   help="appliance seconds per task, dividing an hour (default 3600)")
    p.add_argument("--engine", choices=ENGINE_CHOICES, default=None,
                   help="dask (default when installed), processes (no scheduler) or inline (this process)")
    p.set_defaults(func=run)


def run(args) -> int:
    from firmware.archive import ArchiveError, describe_gap, describe_overlap, load_archive
    from firmware.config import ConfigError, load_config
    from firmware.engines import EngineError, dask_available, start_engine
    from firmware.reanalyze import (DEFAULT_SPAN, DEFAULT_WARM_UP, Journal, ReanalysisError, check_span,
                                    plan, reanalyze, refused_hours)
    from firmware.scheduler import available_cores
    from firmware.store import SqliteStatistics, StoreError

    warm_up = DEFAULT_WARM_UP if args.warm_up is None else args.warm_up
    span = DEFAULT_SPAN if args.task_span is None else args.task_span
    if not 0 <= warm_up <= HOUR:
        raise UserError(f"--warm-up: {warm_up:g} is out of range 0..3600 seconds")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers: {args.workers} must be at least 1")
    engine_kind = args.engine or ("dask" if dask_available() or args.scheduler else "processes")
    if args.scheduler and engine_kind != "dask":
        raise UserError(f"--scheduler runs on Dask; --engine {engine_kind} cannot use it")
    try:
        check_span(span)
        config = load_config(args.config)
        start = _time_arg("--from", args.start)
        end = _time_arg("--to", args.end)
    except (ConfigError, ReanalysisError) as e:
        raise UserError(str(e)) from None
    configured = {ch.id: ch for ch in config.channels}
    for ch in args.channel or ():
        if ch not in configured:
            raise UserError(f"--channel {ch}: not in {args.config} (channels: {', '.join(map(str, configured))})")
    wanted = sorted(set(args.channel)) if args.channel else sorted(configured)
    err = sys.stderr
    # A service manager's stop ends the run as Ctrl-C does: hours written so far are kept.
    signal.signal(signal.SIGTERM, _interrupt)

    try:
        archive = load_archive(args.archive, wanted)
    except ArchiveError as e:
        raise UserError(str(e)) from None
    for line in archive.problems:
        print(f"archive: {line}", file=err)
    channels = [ch for ch in wanted if archive.timelines.get(ch)]
    for ch in wanted:
        if ch not in channels and args.channel:
            print(f"archive: ch{ch:02d}: no readable recordings", file=err)
    if not channels:
        raise UserError(f"--archive {args.archive}: no readable recordings of channel(s) "
                        f"{', '.join(map(str, wanted))}")
    extent = archive.extent(channels)
    start = extent[0] if start is None else start
    end = extent[1] if end is None else end
    start, end = math.floor(start / HOUR) * HOUR, math.ceil(end / HOUR) * HOUR
    if end <= start:
        raise UserError(f"--from/--to: the range {format_clock(start)} - {format_clock(end)} is empty")
    hours = plan(configured, archive, channels, start, end, span=span, warm_up=warm_up)
    if not hours:
        raise UserError(f"--archive {args.archive}: no recordings of channel(s) {', '.join(map(str, channels))} "
                        f"between {format_clock(start)} and {format_clock(end)}")
    gaps = [describe_gap(ch, g) for ch in channels for g in archive.gaps.get(ch, ()) if g[1] > start and g[0] < end]
    overlaps = [describe_overlap(ch, o) for ch in channels for o in archive.overlaps.get(ch, ())
                if o[1] > start and o[0] < end]
    for line in gaps + overlaps:
        print(line, file=err)
    refused = refused_hours(args.state_dir, hours)
    if refused:
        raise UserError(refused)

    try:
        store = SqliteStatistics(args.state_dir)
    except StoreError as e:
        raise UserError(str(e)) from None
    journal = Journal(args.state_dir)
    engine = None
    try:
        for ch in channels:
            store.set_channel_name(ch, configured[ch].name)
        try:
            engine = start_engine(engine_kind, args.workers or available_cores(), args.scheduler,
                                  initializer=_load_kernels)
        except EngineError as e:
            raise UserError(str(e)) from None
        print(f"engine: {engine.description}, ready in {engine.startup_seconds:.1f} s", file=err)
        n_tasks = sum(len(hp.tasks) for hp in hours)
        with _Bar(n_tasks, err) as bar:
            try:
                summary = reanalyze(hours, store, journal, engine, state_dir=args.state_dir,
                                    names={ch: configured[ch].name for ch in channels},
                                    on_progress=bar.update)
            except ReanalysisError as e:
                raise UserError(str(e)) from None
            except KeyboardInterrupt:
                bar.close()
                print("interrupted: the hours written so far are kept; run the same command again to finish",
                      file=err)
                return 130
    finally:
        if engine is not None:
            engine.close()
        journal.close()
        store.close()

    for line in summary.problems:
        print(line, file=err)
    report = _report(summary, archive, engine, start, end, warm_up, span, gaps, overlaps)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    return 1 if summary.failed else 0


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt


def _load_kernels() -> None:
    from firmware.reanalyze import _ensure_kernels

    _ensure_kernels()


def _time_arg(flag: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return to_clock(dt.datetime.fromisoformat(text).replace(tzinfo=None))
    except ValueError:
        raise UserError(f"{flag}: {text!r} is not an ISO 8601 time such as 2026-11-24T08:00") from None


class _Bar(Progress):
    """Tasks done, channel-hours per second, ETA."""

    def __init__(self, total: int, stream):
        super().__init__(total, "reanalyze", stream=stream, delay=1.0)
        self._hours = 0.0

    def update(self, summary, total: int) -> None:
        self.total = total
        self._hours = sum(c.armed_seconds for c in summary.channels.values()) / HOUR
        self.advance(summary.tasks_done - self.done)

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = self._hours / elapsed
        left = (self.total - self.done) * elapsed / self.done if self.done else float("nan")
        eta = "--:--" if math.isnan(left) else f"{int(left // 60):d}:{int(left % 60):02d}"
        share = self.done / self.total if self.total else 1.0
        fill = int(share * 30)
        return (f"{self.label} [{'#' * fill}{'.' * (30 - fill)}] {self.done:.0f}/{self.total:.0f} tasks "
                f"{rate:.2f} channel-hours/s ETA {eta}")


def _report(summary, archive, engine, start, end, warm_up, span, gaps, overlaps) -> dict:
    channels = []
    for ch, cs in summary.channels.items():
        channels.append({
            "channel": ch, "name": cs.name, "hours": cs.hours, "resumed": cs.resumed, "no_data": cs.no_data,
            "failed": cs.failed, "files": archive.files.get(ch, 0), "unreadable": archive.unreadable.get(ch, 0),
            "gaps": len(archive.gaps.get(ch, ())), "overlaps": len(archive.overlaps.get(ch, ())),
            "tasks": cs.tasks, "frames": cs.frames, "channel_hours": round(cs.armed_seconds / HOUR, 3),
            "visits": cs.visits, "dwell_seconds": round(cs.dwell_seconds, 2),
        })
    analysed_hours = sum(c.armed_seconds for c in summary.channels.values()) / HOUR
    keys = ("hours", "resumed", "no_data", "failed", "files", "unreadable", "gaps", "overlaps", "tasks", "frames",
            "visits")
    totals = {k: sum(c[k] for c in channels) for k in keys}
    totals.update({
        "channel_hours": round(analysed_hours, 3),
        "dwell_seconds": round(sum(c["dwell_seconds"] for c in channels), 2),
        "seconds": round(summary.run_seconds, 3),
        "channel_hours_per_second": round(analysed_hours / summary.run_seconds, 4) if summary.run_seconds else None,
        "compute_seconds": round(summary.compute_seconds, 3),
    })
    return {
        "range": {"from": format_clock(start), "to": format_clock(end)},
        "engine": {"description": engine.description, "workers": engine.workers,
                   "startup_seconds": round(engine.startup_seconds, 3), "worker_processes": len(summary.workers)},
        "warm_up_seconds": warm_up, "task_span_seconds": span,
        "channels": channels, "totals": totals,
        "problems": archive.problems + summary.problems, "gaps": gaps, "overlaps": overlaps,
    }


def _print_table(r: dict) -> None:
    print(f"re-analysed {r['range']['from'][:16]} - {r['range']['to'][:16]} on {r['engine']['description']} "
          f"(warm-up {r['warm_up_seconds']:g} s, tasks of {r['task_span_seconds'] // 60} min)")
    head = ("ch", "name", "hours", "resumed", "no data", "failed", "files", "unreadable", "gaps", "overlaps",
            "ch-hours", "visits", "dwell h")
    rows = []
    for c in r["channels"] + [dict(r["totals"], channel="", name="total")]:
        rows.append((str(c["channel"]), c["name"], str(c["hours"]), str(c["resumed"]), str(c["no_data"]),
                     str(c["failed"]), str(c["files"]), str(c["unreadable"]), str(c["gaps"]), str(c["overlaps"]),
                     f"{c['channel_hours']:.2f}", str(c["visits"]), f"{c['dwell_seconds'] / HOUR:.2f}"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:{'<' if i == 1 else '>'}{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*head))
    for row in rows:
        print(fmt.format(*row))
    t = r["totals"]
    rate = t["channel_hours_per_second"]
    print(f"{t['channel_hours']:.2f} channel-hours in {t['seconds']:.1f} s"
          f"{f': {rate:.3f} channel-hours/s' if rate else ''} "
          f"(engine ready in {r['engine']['startup_seconds']:.1f} s)")
