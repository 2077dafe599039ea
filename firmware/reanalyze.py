"""Archive re-analysis: recompute recorded channel-hours and put them in the statistics store.

PLAN. The hours of [start, end) in which the archive (`firmware.archive`)
has video for a channel are re-analysed, each cut into tasks of `span`
seconds (an hour, or a divisor of it). A task covers the part of its span in
which the channel's heat map is armed, plus a WARM-UP of the `warm_up`
seconds before it (or as much of them as is recorded). Hours without video
are left as they are; an hour with video but nothing armed (heat map off,
outside the schedule) becomes "no data", as the appliance with this
configuration would have left it.

TASK. `run_task(task) -> TaskResult` is a pure function of its argument:
recordings in, the span's hourly records out (small aggregates: grids and
totals, no frames), plus the last background snapshot when asked. It plays
the segments through `hal.playback` into the appliance's own
`firmware.channel.Channel` (the same capture-to-statistics code and `vca`
analysis as `nvr run`), with `warm_until` set to the span's start, no frame
budget (every frame is analysed) and no checkpoints. It runs the same in
this process, in a process pool and on a Dask worker (`firmware.engines`).

BOUNDARIES: a target crossing a task boundary is counted once, by ownership
of time. Statistics belong to the span holding the appliance time of the
frame they are counted on, exactly as the live appliance buckets them into
hours. The task of the span before the boundary counts up to its last frame
before it; the task after it analyses the WARM-UP first, so at the boundary
its background model is learned and the target is already tracked, with the
cells and areas it was in during the last grace time remembered: its visit
was counted (in the warm-up, and dropped) and is not counted again, while
its dwell from the boundary on counts here. The rule fails only for a
target that has stood still in an area for the whole warm-up before the
boundary: the model learns it as background, as at the appliance's boot.

REPLACE. Only the driver (`reanalyze`) writes to the store. When every task
of a channel-hour has finished, the hour's records replace whatever the
store held for it, in one transaction (`SqliteStatistics.replace_hour`),
under the layout the configuration and the recordings give.

RESUME. After each hour's transaction the driver notes the hour, with a key
over everything its result depends on (configuration, recordings, warm-up,
span), in a journal beside the store (``reanalyze.sqlite3``). A run that
finds an hour noted under the same key skips it: re-running an interrupted
command (Ctrl-C, kill -9 of the driver or of a worker) finishes what is
left and ends with the store an uninterrupted run leaves. A run that
completes clears its hours from the journal, so the same command run again
recomputes them and, the analysis being deterministic, writes the same
store. A crash between an hour's transaction and its note only means the
hour is recomputed.

LOCK. Hours that a running appliance is writing (`firmware.applock`) are
refused before any work starts, and checked again before each hour is
written.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware import applock
from firmware.archive import Archive
from firmware.channel import ENDED, Channel, load_kernels
from firmware.clock import HOUR, format_clock, weekday_minute
from firmware.config import ChannelConfig
from firmware.stats import HourRecord
from hal.playback import Segment, SegmentPlayback

DEFAULT_WARM_UP = 120.0   # seconds: the Background Update Rate's default absorption time
DEFAULT_SPAN = HOUR
JOURNAL = "reanalyze.sqlite3"
VERSION = 1               # part of every hour's key: bump when the analysis changes results


class ReanalysisError(Exception):
    """Something the user can fix (a refused hour, a bad span); one line."""


# --------------------------------------------------------------------------- the task


@dataclass(frozen=True, slots=True)
class Task:
    """One channel's span: what to play, from when to count, until when."""

    channel: ChannelConfig
    segments: tuple[Segment, ...]   # from the warm-up's start to count_to
    count_from: float               # appliance time statistics count from
    count_to: float                 # ...and until (exclusive)
    recorded: float = 0.0           # seconds of [count_from, count_to) the recordings cover
    background: bool = False        # return the last background snapshot

    @property
    def key(self) -> str:
        return f"reanalyze-ch{self.channel.id:02d}-{self.count_from:.0f}"


@dataclass(slots=True)
class TaskResult:
    channel: int
    count_from: float
    count_to: float
    records: list[HourRecord]
    background: tuple[float, np.ndarray] | None
    frames: int             # frames decoded and delivered, warm-up included
    analysed: int           # frames analysed, warm-up included
    compute_seconds: float  # wall time inside run_task
    problems: list[str]     # files that broke part-way, one line each
    worker: str             # host:pid that ran it


class _TaskSink:
    """A task's statistics sink: keeps what the channel hands over (warm-up records never come)."""

    def __init__(self) -> None:
        self.records: list[HourRecord] = []
        self.background: tuple[float, np.ndarray] | None = None

    def record(self, rec: HourRecord) -> None:
        self.records.append(rec)

    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None:
        self.background = (wall, image.copy())

    def checkpoint(self) -> None:
        pass

    def close(self) -> None:
        pass


_kernels_loaded = False


def _ensure_kernels() -> None:
    global _kernels_loaded
    if not _kernels_loaded:
        load_kernels()
        _kernels_loaded = True


def run_task(task: Task) -> TaskResult:
    """Analyse one task's recordings (see TASK); deterministic for a given task."""
    t0 = time.perf_counter()
    _ensure_kernels()
    sink = _TaskSink()
    origin = task.segments[0].start if task.segments else task.count_from  # a file's start: see hal.playback TIME
    playback = SegmentPlayback(task.segments, origin=origin, analysis_width=task.channel.analysis_width,
                               skip_loop_filter=task.channel.skip_loop_filter)
    channel = Channel(task.channel, playback, sink, budget_us=math.inf, checkpoint_interval=math.inf,
                      stop_at=task.count_to, warm_until=task.count_from)
    try:
        while channel.step() != ENDED:
            pass
    finally:
        channel.finish()
        playback.close()
    return TaskResult(channel=task.channel.id, count_from=task.count_from, count_to=task.count_to,
                      records=sink.records, background=sink.background if task.background else None,
                      frames=channel.counters.frames, analysed=channel.counters.analysed,
                      compute_seconds=time.perf_counter() - t0, problems=playback.problems,
                      worker=f"{socket.gethostname()}:{os.getpid()}")


# --------------------------------------------------------------------------- the plan


@dataclass(slots=True)
class HourPlan:
    channel: int
    hour_start: int
    recorded: float              # seconds of the hour the archive has
    tasks: list[Task]            # empty: nothing armed, the hour becomes "no data"
    key: str = ""                # what the hour's result depends on (RESUME)


def plan(config_channels: dict[int, ChannelConfig], archive: Archive, channels: list[int],
         start: float, end: float, *, span: int = DEFAULT_SPAN, warm_up: float = DEFAULT_WARM_UP) -> list[HourPlan]:
    """The hours of [start, end) (whole hours) to re-analyse, per channel, with their tasks."""
    check_span(span)
    hours: list[HourPlan] = []
    last: dict[int, Task] = {}
    first_hour = int(start // HOUR) * HOUR
    for ch in channels:
        cfg = config_channels[ch]
        for h in range(first_hour, int(math.ceil(end / HOUR)) * HOUR, HOUR):
            recorded = archive.recorded(ch, h, h + HOUR)
            if recorded <= 0:
                continue
            hp = HourPlan(ch, h, recorded, [])
            for s in range(h, h + HOUR, span):
                armed = _armed_part(cfg, s, s + span)
                if armed is None or archive.recorded(ch, *armed) <= 0:
                    continue
                count_from, count_to = armed
                segments = archive.segments(ch, count_from - warm_up, count_to)
                task = Task(cfg, segments, count_from, count_to, archive.recorded(ch, count_from, count_to))
                hp.tasks.append(task)
                last[ch] = task
            hp.key = _hour_key(cfg, hp, archive, span, warm_up)
            hours.append(hp)
    for ch, task in last.items():  # the channel's latest background comes from its last task
        for hp in hours:
            if hp.channel == ch and task in hp.tasks:
                hp.tasks[hp.tasks.index(task)] = dataclasses.replace(task, background=True)
    return hours


def check_span(span: int) -> None:
    if span < 60 or span % 60 or HOUR % span:
        raise ReanalysisError(f"--task-span: {span} s must be whole minutes that divide an hour "
                              "(60, 120, 300, 600, 900, 1200, 1800 or 3600)")


def _armed_part(cfg: ChannelConfig, begin: int, end: int) -> tuple[float, float] | None:
    """[first armed minute, end of the last armed minute) within [begin, end), or None."""
    hm = cfg.heat_map
    if not hm.enabled:
        return None
    if not hm.schedule:
        return float(begin), float(end)
    armed = [m for m in range(begin, end, 60) if hm.armed(*weekday_minute(m))]
    if not armed:
        return None
    return float(armed[0]), float(min(armed[-1] + 60, end))


def _hour_key(cfg: ChannelConfig, hp: HourPlan, archive: Archive, span: int, warm_up: float) -> str:
    files = {}
    for t in hp.tasks:
        for p in archive.pieces(hp.channel, t.segments[0].begin, t.count_to) if t.segments else ():
            files[p.recording.path] = (p.recording.start, p.recording.size, p.recording.mtime_ns)
    doc = {
        "version": VERSION, "span": span, "warm_up": warm_up,
        "channel": {"analysis_width": cfg.analysis_width, "heat_map": dataclasses.asdict(cfg.heat_map)},
        "tasks": [[t.count_from, t.count_to, [[s.path, *files[s.path], s.begin, s.end] for s in t.segments]]
                  for t in hp.tasks],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- the journal


class Journal:
    """Hours already re-analysed by an unfinished run (see RESUME)."""

    def __init__(self, state_dir: str | os.PathLike):
        self.path = Path(state_dir) / JOURNAL
        self._conn = sqlite3.connect(self.path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS done (channel INTEGER NOT NULL, hour_start INTEGER NOT NULL,"
                           " key TEXT NOT NULL, PRIMARY KEY (channel, hour_start))")

    def done(self) -> dict[tuple[int, int], str]:
        return {(c, h): k for c, h, k in self._conn.execute("SELECT channel, hour_start, key FROM done")}

    def note(self, channel: int, hour_start: int, key: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO done (channel, hour_start, key) VALUES (?, ?, ?)",
                           (channel, hour_start, key))

    def forget(self, hours: Iterable[tuple[int, int]]) -> None:
        with self._conn:
            self._conn.executemany("DELETE FROM done WHERE channel = ? AND hour_start = ?", list(hours))

    def close(self) -> None:
        self._conn.close()


# --------------------------------------------------------------------------- the driver


@dataclass(slots=True)
class ChannelSummary:
    channel: int
    name: str
    hours: int = 0              # hours written by this run
    resumed: int = 0            # hours an interrupted run had already written (skipped)
    failed: int = 0             # hours left as they were because a task failed
    no_data: int = 0            # of the written hours, those with nothing analysed
    tasks: int = 0
    frames: int = 0
    recorded_seconds: float = 0.0   # of the written hours
    armed_seconds: float = 0.0      # of which armed: what the tasks analysed, warm-ups aside
    analysed_seconds: float = 0.0
    visits: int = 0
    dwell_seconds: float = 0.0


@dataclass(slots=True)
class Summary:
    channels: dict[int, ChannelSummary]
    problems: list[str] = field(default_factory=list)   # files that broke part-way, failed tasks
    tasks_done: int = 0
    compute_seconds: float = 0.0      # summed over tasks
    run_seconds: float = 0.0          # wall time of the run, engine start-up excluded
    workers: set[str] = field(default_factory=set)

    @property
    def hours(self) -> int:
        return sum(c.hours for c in self.channels.values())

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.channels.values())


def refused_hours(state_dir: str | os.PathLike, hours: list[HourPlan]) -> str | None:
    """One line if a running appliance writes any of `hours`, else None."""
    claim = applock.holder(state_dir)
    if claim is None:
        return None
    clash = [hp for hp in hours if claim.covers(hp.channel, hp.hour_start, hp.hour_start + HOUR)]
    if not clash:
        return None
    first = min(clash, key=lambda hp: hp.hour_start)
    when = format_clock(first.hour_start)[:16]
    return (f"{claim.describe()}: re-analysing channel {first.channel} at {when} ({len(clash)} such hour(s)) "
            f"is refused; stop it, or end the range with --to {when.replace(' ', 'T')}")


def reanalyze(hours: list[HourPlan], store, journal: Journal, engine, *, state_dir: str | os.PathLike,
              names: dict[int, str], on_progress: Callable[[Summary, int], None] | None = None) -> Summary:
    """Run the plan on `engine`, writing each finished hour into `store` (see REPLACE, RESUME)."""
    t0 = time.perf_counter()
    summary = Summary({ch: ChannelSummary(ch, names.get(ch, f"Camera {ch:02d}"))
                       for ch in sorted({hp.channel for hp in hours})})
    refused = refused_hours(state_dir, hours)
    if refused:
        raise ReanalysisError(refused)
    done = journal.done()
    todo = []
    for hp in hours:
        if done.get((hp.channel, hp.hour_start)) == hp.key:
            summary.channels[hp.channel].resumed += 1
        else:
            todo.append(hp)
    by_task: dict[str, tuple[HourPlan, int]] = {}
    results: dict[tuple[int, int], list[TaskResult | None]] = {}
    for hp in todo:
        results[(hp.channel, hp.hour_start)] = [None] * len(hp.tasks)
        for i, t in enumerate(hp.tasks):
            by_task[t.key] = (hp, i)
    backgrounds: dict[int, tuple[float, np.ndarray]] = {}
    failed: set[tuple[int, int]] = set()

    def write(hp: HourPlan, parts: list[TaskResult]) -> None:
        refused = refused_hours(state_dir, [hp])
        if refused:
            raise ReanalysisError(refused)
        records = [r for part in parts for r in part.records]
        store.replace_hour(hp.channel, hp.hour_start, records)
        journal.note(hp.channel, hp.hour_start, hp.key)
        cs = summary.channels[hp.channel]
        cs.hours += 1
        cs.recorded_seconds += hp.recorded
        cs.armed_seconds += sum(t.recorded for t in hp.tasks)
        analysed = sum(r.analysed_seconds for r in records)
        cs.no_data += analysed <= 0
        cs.analysed_seconds += analysed
        cs.visits += sum(r.visits_total for r in records)
        cs.dwell_seconds += sum(r.dwell_total for r in records)

    for hp in todo:
        if not hp.tasks:
            write(hp, [])
    if on_progress:
        on_progress(summary, 0)
    tasks = [t for hp in todo for t in hp.tasks]
    for task, result, error in engine.run(run_task, tasks, key=lambda t: t.key):
        hp, i = by_task[task.key]
        slot = (hp.channel, hp.hour_start)
        cs = summary.channels[hp.channel]
        summary.tasks_done += 1
        cs.tasks += 1
        if error is not None:
            summary.problems.append(f"ch{hp.channel:02d} {format_clock(task.count_from)}: task failed "
                                    f"({type(error).__name__}: {_one_line(error)}); the hour is left as it was")
            if slot not in failed:
                failed.add(slot)
                cs.failed += 1
        else:
            summary.problems.extend(result.problems)
            summary.compute_seconds += result.compute_seconds
            summary.workers.add(result.worker)
            cs.frames += result.frames
            if result.background is not None:
                backgrounds[hp.channel] = result.background
            parts = results[slot]
            parts[i] = result
            if slot not in failed and all(p is not None for p in parts):
                write(hp, parts)
        if on_progress:
            on_progress(summary, len(tasks))
    for ch, (wall, image) in backgrounds.items():
        stored = store.background(ch)
        if stored is None or stored[0] <= wall:
            store.save_background(ch, wall, image)
    store.checkpoint()
    if not failed:
        journal.forget((hp.channel, hp.hour_start) for hp in hours)
    summary.run_seconds = time.perf_counter() - t0
    return summary


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else ""
