"""How many channels this appliance analyses in real time, measured with its own machinery.

Every run uses the firmware's own `Channel`s over `CaptureInput` +
`PyAVCapture` (single-threaded decoders; the channels are the
parallelism), each channel replaying the same recording looped, driven as
the appliance drives recordings: in worker processes, one per core
(`firmware.workers`), each stepping its channels by one worker
(`firmware.scheduler`), round-robin at full speed, by due time when paced.
CPU and memory figures include the worker processes.
Other processes' CPU during each window is reported (`other_cpu_share`):
on a shared machine the figures are only as good as that is small.

1. decode-only: N channels at full speed with the heat map disabled;
2. full pipeline: the same N channels with the heat map enabled on an area
   covering most of the frame, every frame analysed (no budget skipping).
   pipeline_fps / decode_fps is the figure that survives a shared machine;
   pipeline_fps / 25 is how many 25 fps channels that is in real time, if
   nothing else ran;
3. real time: the same N channels paced like live cameras with the budgets
   the appliance would set: cost per frame (median, p99) against the budget,
   overruns, frames skipped by the budget policy, capture drops (frames
   lost when the capture ring of `hal.capture.CAPTURE_RING` buffers
   overflows). Costs are most meaningful here: at full speed every core is
   busy and a step's memory traffic competes with the other worker's;
4. with `find_capacity`: real-time capacity, the largest N that runs at
   real-time pacing for the measurement window with every frame captured
   (0 capture drops), every frame analysed (0 frames skipped by the budget's
   degradation) and every channel at its frame rate, found by doubling from
   half the estimate of step 2 and then bisecting; a probe that fails while
   other processes used over 5 % of the cores is run again. A single frame
   over its budget loses nothing, so overruns are not the pass mark: they
   are reported per 10,000 analysed frames beside the machine's floor at the
   same load (5.). `capacity_to_decode_ceiling` is the capacity over the
   decode-only ceiling of the same run (decode_fps / fps channels, default
   decoder options); resident memory of the passing probe is reported in
   total, per worker process and per channel;
5. the machine's overrun floor (`firmware.bench.machine`): fixed work
   streaming channel-sized buffers in turn, costing what a frame costs, at
   the real-time run's CPU load and budget, timed the same way. Its chunks over budget are overruns no
   analysis can avoid on this machine (a virtual CPU's preemptions are
   billed to whichever thread runs); the run's own overrun rate is read
   against it. With `find_capacity`, measured again at the first failing
   probe's load.

Each run first waits until every channel is analysing (compiled code
loaded, decoders started) and then counts only inside a window of `seconds`
wall seconds, so start-up does not count as drops or overruns. Cost per
frame is read from each channel's `FrameBudget` (the firmware's own meter;
median of the channels' medians, worst channel p99) against the budget the
appliance would hand out (`firmware.budget.frame_budget_us`).
"""
from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from firmware.bench.machine import OverrunFloor, overrun_floor
from firmware.procstat import machine_busy_seconds, process_cpu_seconds, pss_mb, rss_mb
from hal.input import CaptureState

MOST_OF_FRAME = ((0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95))
REALTIME_FPS = 25.0
START_TIMEOUT = 30.0    # wall seconds for every channel to deliver its first analysed frame
SETTLE = 0.5            # wall seconds after that before the window opens
MAX_CHANNELS = 1024     # capacity search ceiling (threads and file handles)
NOISY = 0.05            # other processes' share of the cores above which a failed probe is retried
NOISY_RETRIES = 2


class ThroughputError(ValueError):
    """The measurement cannot run as asked; the message names the fix."""


@dataclass(slots=True)
class RunResult:
    channels: int
    seconds: float          # length of the measurement window
    frames: int             # frames taken from the captures in the window, all channels
    analysed: int
    drops: int
    overruns: int
    skipped: int
    median_us: float
    p99_us: float
    budget_us: float
    cpu_share: float        # process CPU seconds / (wall seconds x cores) in the window
    other_cpu_share: float  # CPU the rest of the machine used, same unit: > 0.05 means a noisy figure
    rss_mb: float
    min_channel_fps: float
    workers_rss_mb: tuple[float, ...] = ()   # each worker process's resident MB at the end of the window
    pss_mb: float = 0.0     # the same processes' proportional set sizes summed: shared pages counted once

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def probe_source(source: str, analysis_width: int | None):
    """Open the source once: its StreamInfo, or ThroughputError naming the fix."""
    from hal.capture import PyAVCapture
    from hal.errors import CaptureError

    if not Path(source).is_file():
        raise ThroughputError(f"--source {source}: no such file; give a recording to replay")
    try:
        with PyAVCapture(source, analysis_width=analysis_width, pacing="max", decoder_threads=1) as cap:
            cap.read()
            return cap.info
    except CaptureError as e:
        raise ThroughputError(f"--source {source}: {e}") from None
    except ValueError as e:
        raise ThroughputError(str(e)) from None


def run_channels(source: str, n: int, seconds: float, analysis_width: int | None, *, heat_map: bool,
                 speed: str, fps: float, analytics_share: float = 0.5, unmetered: bool = False,
                 monitor: Callable[[float, float], None] | None = None, workers: int | None = None,
                 skip_loop_filter: str = "none") -> RunResult:
    """Run n channels of `source` through the firmware's Channel and count a window of `seconds`.

    unmetered: give every frame an unlimited budget, so the budget's
    frame-skip policy never thins the load (full-speed runs measure the
    whole pipeline on every frame). monitor(elapsed_seconds, rss_mb) is
    called about once a second inside the window, with the resident memory
    of this process and its worker processes. workers: None runs the channels as
    the appliance does (worker processes, one per core); for comparison, k
    steps them by k worker threads in this process, 0 by a thread each.
    """
    from firmware.budget import cpu_per_frame_us, frame_budget_us
    from firmware.channel import Channel, load_kernels
    from firmware.config import ChannelConfig, HeatMapConfig
    from firmware.scheduler import WorkerPool, available_cores
    from firmware.stats import MemoryStatistics
    from firmware.workers import CaptureSpec, ChannelSpec, ProcessPool
    from hal.input import CaptureInput

    budget = frame_budget_us([fps] * n, analytics_share)
    cpu = None if unmetered else cpu_per_frame_us([fps] * n)   # as the appliance shares it (firmware.budget)
    sink = MemoryStatistics()
    hm = HeatMapConfig(enabled=heat_map, regions=(MOST_OF_FRAME,))
    capture = CaptureSpec(source, loop=True, analysis_width=analysis_width, pacing=speed, decoder_threads=1,
                          skip_loop_filter=skip_loop_filter)
    # Checkpoints would only add store work to the measurement: one per hour.
    specs = [ChannelSpec(ChannelConfig(id=cid, name=f"bench-{cid}", source=source, loop=True,
                                       analysis_width=analysis_width, heat_map=hm,
                                       skip_loop_filter=skip_loop_filter),
                         capture, float("inf") if unmetered else budget, 3600.0, cpu_us=cpu)
             for cid in range(1, n + 1)]
    pool = None
    if workers is None:
        pool = ProcessPool(specs, sink, available_cores())
        channels = list(pool.channels.values())
    else:
        load_kernels()  # here, as worker processes do for theirs
        channels = [Channel(s.config, CaptureInput(s.config.id, s.capture.open), sink, budget_us=s.budget_us,
                            checkpoint_interval=s.checkpoint_interval, stop_at=None, cpu_us=s.cpu_us)
                    for s in specs]
    threads = None
    try:
        if pool is not None:
            pool.start()
        elif workers:
            threads = WorkerPool(channels, workers)
            threads.start()
        else:
            for c in channels:
                c.start()
        _wait_started(channels, heat_map)
        gc.collect()
        gc.freeze()  # as the appliance does after boot (see Appliance.boot)
        time.sleep(SETTLE)
        before = _snapshot(channels, pool)
        cpu0, busy0, t0 = _cpu_seconds(pool), machine_busy_seconds(), time.monotonic()
        end = t0 + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            if monitor is not None:
                monitor(time.monotonic() - t0, _rss_mb(pool))
        after = _snapshot(channels, pool)
        cpu1, busy1, t1 = _cpu_seconds(pool), machine_busy_seconds(), time.monotonic()
        rss = _rss_mb(pool)
        workers_rss = tuple(rss_mb(pid) for pid in pool.pids) if pool is not None else ()
        pss = pss_mb() + (sum(pss_mb(pid) for pid in pool.pids) if pool is not None else 0.0)
    finally:
        for c in channels:
            c.stop()  # the channel hands its stop event to CaptureInput.read, which closes the source
        for c in channels:
            c.join(timeout=10.0)
        if pool is not None:
            pool.close(timeout=10.0)
        if threads is not None:
            threads.join(timeout=10.0)
        gc.unfreeze()  # a later run must not keep this run's objects
    wall = t1 - t0
    delta = after - before  # (channels, 5): frames, analysed, drops, overruns, skipped
    stats = [c.budget.stats() for c in channels]
    meds = [s.median_us for s in stats if s.median_us > 0]
    return RunResult(
        channels=n, seconds=wall, frames=int(delta[:, 0].sum()), analysed=int(delta[:, 1].sum()),
        drops=int(delta[:, 2].sum()), overruns=int(delta[:, 3].sum()), skipped=int(delta[:, 4].sum()),
        median_us=float(np.median(meds)) if meds else 0.0,
        # The budget the channels ended with: it follows what decoding left them.
        p99_us=max((s.p99_us for s in stats), default=0.0),
        budget_us=float(np.median([s.budget_us for s in stats])) if stats else budget,
        cpu_share=(cpu1 - cpu0) / (wall * (os.cpu_count() or 1)), rss_mb=rss,
        other_cpu_share=max(0.0, (busy1 - busy0) - (cpu1 - cpu0)) / (wall * (os.cpu_count() or 1)),
        min_channel_fps=float(delta[:, 0].min()) / wall if n else 0.0, workers_rss_mb=workers_rss,
        pss_mb=pss)


def _wait_started(channels, heat_map: bool) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if all((c.counters.analysed if heat_map else c.counters.frames) > 0 for c in channels):
            return
        dead = [c for c in channels if not c.alive or c.capture.state == CaptureState.VIDEO_LOSS]
        if dead or time.monotonic() > deadline:
            c = (dead or channels)[0]
            why = c.capture.last_error or f"no frame within {START_TIMEOUT:g} s"
            raise ThroughputError(f"channel {c.config.id} did not start: {why}; check the source "
                                  "plays with `nvr run`")
        time.sleep(0.05)


def _cpu_seconds(pool) -> float:
    """CPU seconds of this process and the pool's worker processes."""
    return time.process_time() + (sum(process_cpu_seconds(pid) for pid in pool.pids) if pool is not None else 0.0)


def _rss_mb(pool) -> float:
    """Resident MB of this process and the pool's worker processes (their RSS summed:
    shared libraries count once per process)."""
    return rss_mb() + (sum(rss_mb(pid) for pid in pool.pids) if pool is not None else 0.0)


def _snapshot(channels, pool) -> np.ndarray:
    if pool is not None:
        pool.refresh()
    return np.array([(c.counters.frames, c.counters.analysed, c.capture.drops, c.budget.overruns,
                      c.budget.skipped) for c in channels], np.int64)


def analyzer_bytes(height: int, width: int) -> int:
    """Bytes of every NumPy array a ChannelAnalyzer for (height, width) holds (shared buffers once)."""
    from vca.analyzer import ChannelAnalyzer

    return array_bytes(ChannelAnalyzer(height, width))


def array_bytes(root) -> int:
    """Sum of nbytes of the distinct array buffers reachable through attributes of `root`."""
    seen_objs: set[int] = set()
    buffers: dict[int, int] = {}

    def visit(obj, depth: int) -> None:
        if id(obj) in seen_objs or depth > 6:
            return
        seen_objs.add(id(obj))
        if isinstance(obj, np.ndarray):
            base = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            buffers[id(base)] = base.nbytes
            return
        if isinstance(obj, (list, tuple)):
            for x in obj:
                visit(x, depth + 1)
            return
        if isinstance(obj, dict):
            for x in obj.values():
                visit(x, depth + 1)
            return
        fields = getattr(obj, "__dict__", None)
        if fields is None and hasattr(obj, "__slots__"):
            fields = {k: getattr(obj, k, None) for k in obj.__slots__}
        if fields and type(obj).__module__.split(".")[0] in ("vca", "firmware", "hal"):
            for x in fields.values():
                visit(x, depth + 1)

    visit(root, 0)
    return sum(buffers.values())


def passes(r: RunResult, fps: float) -> bool:
    """Real time: every frame captured and analysed, every channel at its frame rate (overruns aside)."""
    return r.drops == 0 and r.skipped == 0 and r.min_channel_fps >= 0.9 * fps


def find_capacity(source: str, seconds: float, analysis_width: int | None, fps: float, start: int,
                  progress=None, state_bytes: int = 4 << 20, skip_loop_filter: str = "none") -> dict:
    """Largest channel count running in real time (`passes`), by doubling, then bisection."""
    runs: dict[int, RunResult] = {}

    def ok(n: int) -> bool:
        # A probe that fails while other processes took the cores says
        # nothing about this appliance: try it again (twice at most).
        for _ in range(1 + NOISY_RETRIES):
            r = run_channels(source, n, seconds, analysis_width, heat_map=True, speed="realtime", fps=fps,
                             skip_loop_filter=skip_loop_filter)
            runs[n] = r
            if progress is not None:
                progress(n, r)
            # A late channel would show as drops; a channel far below its frame
            # rate without drops is stuck, which is just as much a failure.
            passed = passes(r, fps)
            if passed or r.other_cpu_share <= NOISY:
                return passed
        return False

    lo, hi = 0, None   # lo passed (0: none did), hi failed (None: none did)
    n = max(1, min(start, MAX_CHANNELS))
    if ok(n):
        lo = n
        while lo < MAX_CHANNELS:
            n = min(lo * 2, MAX_CHANNELS)
            if not ok(n):
                hi = n
                break
            lo = n
    else:
        hi = n
        while hi > 1:
            n = hi // 2
            if ok(n):
                lo = n
                break
            hi = n
    while hi is not None and hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    out = {"channels": lo, "seconds": seconds, "probes": {str(k): _probe_json(v) for k, v in sorted(runs.items())}}
    if lo in runs:
        best = runs[lo]
        out["passed"] = _probe_json(best)
        out["rss_mb"] = round(best.rss_mb, 1)
        out["rss_mb_per_worker"] = [round(x, 1) for x in best.workers_rss_mb]
        out["rss_mb_per_channel"] = round(best.rss_mb / lo, 2)
        out["pss_mb"] = round(best.pss_mb, 1)
        out["overruns_per_10k"] = _per_10k(best.overruns, best.analysed)
        if best.median_us > 0:
            floor = overrun_floor(best.median_us, best.budget_us, best.cpu_share, seconds,
                                  buffers=best.channels, buffer_bytes=state_bytes)
            out["machine_floor"] = _floor_json(floor, best.analysed)
    if hi is not None and hi in runs:
        out["limit"] = _limit(runs[hi])
    else:
        out["limit"] = f"search ceiling {MAX_CHANNELS}"
    return out


def _per_10k(count: int, frames: int) -> float:
    return round(count * 1e4 / frames, 2) if frames else 0.0


def _floor_json(f: OverrunFloor, frames: int) -> dict:
    """The floor as JSON, with the overruns it predicts for `frames` analysed frames."""
    return {"chunks": f.chunks, "over_budget": f.over_budget, "rate": round(f.rate, 7),
            "per_10k": round(f.rate * 1e4, 2),
            "expected_overruns": round(f.rate * frames, 2), "median_us": round(f.median_us, 1),
            "p99_us": round(f.p99_us, 1), "max_us": round(f.max_us, 1), "cpu_share": round(f.cpu_share, 3)}


def _limit(r: RunResult) -> str:
    what = []
    if r.drops:
        what.append(f"{r.drops} capture drops")
    if r.skipped:
        what.append(f"{r.skipped} frames skipped by the budget (cost median {r.median_us:.0f}, "
                    f"p99 {r.p99_us:.0f} us vs budget {r.budget_us:.0f} us)")
    if not what:
        what.append(f"slowest channel {r.min_channel_fps:.1f} fps")
    noisy = f", other processes {r.other_cpu_share * 100:.0f}%" if r.other_cpu_share > NOISY else ""
    return (f"at {r.channels} channels: {', '.join(what)}; CPU {r.cpu_share * 100:.0f}% of "
            f"{os.cpu_count()} cores{noisy}")


def _probe_json(r: RunResult) -> dict:
    return {"fps": round(r.fps, 1), "drops": r.drops, "skipped": r.skipped, "overruns": r.overruns,
            "analysed": r.analysed, "overruns_per_10k": _per_10k(r.overruns, r.analysed),
            "median_us": round(r.median_us, 1),
            "p99_us": round(r.p99_us, 1), "budget_us": round(r.budget_us, 1),
            "cpu_share": round(r.cpu_share, 3), "other_cpu_share": round(r.other_cpu_share, 3),
            "min_channel_fps": round(r.min_channel_fps, 2), "rss_mb": round(r.rss_mb, 1),
            "pss_mb": round(r.pss_mb, 1)}


def measure(source: str, channels: int, seconds: float, analysis_width: int | None = None,
            capacity: bool = False, skip_loop_filter: str = "none") -> dict:
    """The `nvr bench throughput` report (see the module docstring); progress on stderr.

    skip_loop_filter: the channels' decoder setting for the pipeline, real-time
    and capacity runs; decode-only, the baseline, always runs with the default
    (and, when the setting differs, once more with it: `decode_fps_with_setting`)."""
    from firmware.bench.progress import Progress
    from firmware.scheduler import available_cores

    info = probe_source(source, analysis_width)
    fps = info.fps
    state_bytes = analyzer_bytes(info.analysis_height, info.analysis_width)
    steps = 4 + (skip_loop_filter != "none") + (10 if capacity else 0)  # capacity probes: a guess for the bar
    with Progress(steps * seconds, "throughput") as bar:
        ticker = _Ticker(bar)
        with ticker:
            bar.set_label(f"decode only, {channels} ch")
            dec = run_channels(source, channels, seconds, analysis_width, heat_map=False, speed="max", fps=fps)
            dec_set = None
            if skip_loop_filter != "none":
                bar.set_label(f"decode only, skip_loop_filter {skip_loop_filter}")
                dec_set = run_channels(source, channels, seconds, analysis_width, heat_map=False, speed="max",
                                       fps=fps, skip_loop_filter=skip_loop_filter)
            bar.set_label(f"full pipeline, {channels} ch")
            pipe = run_channels(source, channels, seconds, analysis_width, heat_map=True, speed="max", fps=fps,
                                unmetered=True, skip_loop_filter=skip_loop_filter)
            bar.set_label(f"real time, {channels} ch")
            rt = run_channels(source, channels, seconds, analysis_width, heat_map=True, speed="realtime",
                              fps=fps, skip_loop_filter=skip_loop_filter)
            bar.set_label("machine floor")
            floor = (overrun_floor(rt.median_us, rt.budget_us, rt.cpu_share, seconds, buffers=channels,
                                   buffer_bytes=state_bytes) if rt.median_us > 0 else None)
            report = {
                "channels": channels,
                "decode_fps": round(dec.fps, 1),
                "pipeline_fps": round(pipe.fps, 1),
                "pipeline_to_decode_ratio": round(pipe.fps / dec.fps, 3) if dec.fps > 0 else 0.0,
                "realtime_channels_25fps": round(pipe.fps / REALTIME_FPS, 1),
                "overruns": rt.overruns,
                "drops": rt.drops,
                "skipped": rt.skipped,
                "median_us": round(rt.median_us, 1),
                "p99_us": round(rt.p99_us, 1),
                "budget_us": round(rt.budget_us, 1),
                "analysed": rt.analysed,
                "overrun_rate": round(rt.overruns / rt.analysed, 7) if rt.analysed else 0.0,
                "overruns_per_10k": _per_10k(rt.overruns, rt.analysed),
                "machine_floor": _floor_json(floor, rt.analysed) if floor is not None else None,
                "realtime_fps": round(rt.fps, 1),
                "full_speed_median_us": round(pipe.median_us, 1),
                "full_speed_p99_us": round(pipe.p99_us, 1),
                "rss_mb": round(max(dec.rss_mb, pipe.rss_mb, rt.rss_mb), 1),
                "analyzer_mb": round(state_bytes / 2**20, 3),
                "cpu_share": round(pipe.cpu_share, 3),
                "decode_cpu_share": round(dec.cpu_share, 3),
                # Other processes' CPU during the runs: figures are only comparable when ~0.
                "other_cpu_share": round(max(dec.other_cpu_share, pipe.other_cpu_share, rt.other_cpu_share,
                                             dec_set.other_cpu_share if dec_set else 0.0), 3),
                "skip_loop_filter": skip_loop_filter,
                "source": source,
                "width": info.analysis_width,
                "height": info.analysis_height,
                "fps": fps,
                "seconds": seconds,
                "cores": os.cpu_count(),
                "workers": min(available_cores(), channels),  # worker processes
            }
            if dec_set is not None:
                report["decode_fps_with_setting"] = round(dec_set.fps, 1)
                report["decode_setting_speedup"] = round(dec_set.fps / dec.fps, 3) if dec.fps > 0 else 0.0
            if capacity:
                start = max(1, int(pipe.fps / fps / 2))

                def on_probe(n, r):
                    bar.set_label(f"capacity, {n} ch")
                c = find_capacity(source, seconds, analysis_width, fps, start, on_probe, state_bytes,
                                  skip_loop_filter)
                ceiling = dec.fps / fps
                c["decode_ceiling_channels"] = round(ceiling, 1)
                c["capacity_to_decode_ceiling"] = round(c["channels"] / ceiling, 3) if ceiling > 0 else 0.0
                report["capacity"] = c
    return report


class _Ticker:
    """Advances a Progress bar with wall time from a helper thread while runs sleep."""

    def __init__(self, bar):
        self.bar = bar
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.bar.advance(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
